"""Preferences, dispatch and delivery, without request state.

Dispatch runs inside the emitting transaction and only writes rows; the
worker delivers them under the shared outbox rules of ``core.delivery.outbox``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from peewee import JOIN

from core import (
    Account,
    Channel,
    Event,
    EventType,
    Notification,
    PlannedDelivery,
    database,
    enqueue,
    event_types,
    outbox,
)
from plugins.notifications.models import Delivery, Preference

DELIVER_JOB = "notifications.deliver"


def channels() -> list[Channel]:
    """Every registered channel, in display order (collected when the app was created)."""
    return current_app.extensions["kontor"].channels


def channel(key: str) -> Channel | None:
    return next((c for c in channels() if c.key == key), None)


def preferences(account: Account) -> dict[tuple[str, str], bool]:
    """The effective matrix: explicit choices over each event's defaults."""
    matrix = {
        (t.key, c.key): c.key in t.default_channels for t in event_types() for c in channels()
    }
    for row in Preference.select().where(Preference.account == account.id):
        if (row.event_type, row.channel) in matrix:
            matrix[(row.event_type, row.channel)] = row.enabled
    return matrix


def _choice(row: Preference | None, event_type: str, channel_key: str) -> bool:
    """An explicit preference row wins; otherwise the event's default."""
    if row is not None:
        return row.enabled
    kind = next((t for t in event_types() if t.key == event_type), None)
    return kind is not None and channel_key in kind.default_channels


def save_preferences(account: Account, chosen: Iterable[tuple[str, str]]) -> None:
    """Store the whole matrix: ``chosen`` are the enabled (event, channel) pairs."""
    wanted = set(chosen)
    with database.atomic():
        Preference.delete().where(Preference.account == account).execute()
        Preference.insert_many(
            [
                {"account": account, "event_type": e, "channel": c, "enabled": (e, c) in wanted}
                for e, c in preferences(account)
            ]
        ).execute()


def chosen_channels(account: Account, event_type: str) -> list[Channel]:
    """The channels an event of ``event_type`` goes to in ``account`` (one query)."""
    # Every event runs this select: written out, as peewee takes several
    # times longer to compose it than to run it.
    sql = (
        'SELECT * FROM "notifications_preference" '  # noqa: S608 - only placeholders go in
        f'WHERE "account_id" = {database.param} AND "event_type" = {database.param}'
    )
    chosen = {row.channel: row for row in Preference.raw(sql, account.id, event_type)}
    return [ch for ch in channels() if _choice(chosen.get(ch.key), event_type, ch.key)]


def dispatch(event: Event) -> list[PlannedDelivery]:
    """Create one delivery per enabled channel (called inside the event's transaction)."""
    account = event.account
    planned = []
    for ch in chosen_channels(account, event.type):
        row = _queue(account, event, event.type, ch)
        planned.append(PlannedDelivery(ch.key, row.target, row.status))
    return planned


def _queue(account: Account, event: Event | None, event_type: str, ch: Channel) -> Delivery:
    """One outbox row for ``ch``, handed to the worker after commit; "skipped"
    with the reason when the account has no target for the channel."""
    target = ch.target(account)
    row = Delivery.create(
        account=account,
        event=event,
        event_type=event_type,
        channel=ch.key,
        target=target,
        status="pending" if target else "skipped",
        error="" if target else str(ch.missing_target),
    )
    if target:
        enqueue(DELIVER_JOB, delivery_id=row.id)
    return row


def subject_of(kind: EventType | None, event_type: str, details: Mapping[str, str]) -> str:
    """The singular subject of one event: the first of the type's subjects
    whose placeholders the data fills, else the type's label."""
    for pattern in kind.subjects if kind else ():
        try:
            return str(pattern) % details
        except (KeyError, TypeError, ValueError):
            continue
    return str(kind.label) if kind else event_type


def _details(data: Mapping[str, Any]) -> dict[str, str]:
    """The event data that can be shown: short texts and numbers."""
    return {
        str(k)[:50]: str(v)[:200]
        for k, v in data.items()
        if isinstance(v, str | int | float) and not isinstance(v, bool)
    }


def render(event_type: str, data: Mapping[str, Any], account: Account) -> Notification:
    """German subject, text, HTML and SMS text for one event."""
    kind = next((t for t in event_types() if t.key == event_type), None)
    details = _details(data)
    with force_locale("de"):
        label = subject_of(kind, event_type, details)
        subject = _("Kontor: %(label)s", label=label)
        context = {"label": label, "details": details, "account": account}
        text = render_template("notifications/mail/event.txt", **context)
        html = render_template("notifications/mail/event.html", **context)
    extra = [v for v in details.values() if v not in subject]
    short = subject + (f" ({', '.join(extra)})" if extra else "")
    return Notification(subject=subject, text=text, html=html, short_text=short[:300])


def render_test(account: Account) -> Notification:
    with force_locale("de"):
        subject = _("Kontor: Testbenachrichtigung")
        context = {"label": _("Testbenachrichtigung"), "details": {}, "account": account}
        return Notification(
            subject=subject,
            text=render_template("notifications/mail/event.txt", **context),
            html=render_template("notifications/mail/event.html", **context),
            short_text=_("Kontor: Ihre Testbenachrichtigung ist angekommen."),
        )


def _load_delivery(delivery_id: int) -> Delivery:
    """The row, its account and event, and the current preference in one query:
    a choice made after the event was queued still counts."""
    choice = Preference.alias()
    return (
        Delivery.select(Delivery, Account, Event, choice)
        .join(Account)
        .switch(Delivery)
        .join(Event, JOIN.LEFT_OUTER)
        .switch(Delivery)
        .join(
            choice,
            JOIN.LEFT_OUTER,
            on=(
                (choice.account == Delivery.account)
                & (choice.event_type == Delivery.event_type)
                & (choice.channel == Delivery.channel)
            ),
            attr="choice",
        )
        .where(Delivery.id == delivery_id)
        .first()
    )


def deliver(delivery_id: int) -> None:
    """Worker job: send one delivery, then record the outcome."""
    if not outbox.claim(Delivery, delivery_id):
        return
    row = _load_delivery(delivery_id)
    account = row.account
    if row.event_id is not None and not _choice(row.choice, row.event_type, row.channel):
        outbox.finish(row, "skipped", _("Nach dem Einreihen abbestellt"))
        return
    ch = channel(row.channel)
    if ch is None:
        outbox.finish(row, "failed", _("Kanal nicht mehr verfügbar"))
        return
    if row.event_id is None:
        notification = render_test(account)
    else:
        notification = render(row.event_type, row.event.data, account)
    outbox.attempt(
        row,
        lambda: ch.send(account, row.target, notification),
        DELIVER_JOB,
        "delivery_id",
        tracked=getattr(ch, "tracks_progress", False),
    )


def sweep() -> int:
    """Periodic job: re-enqueue forgotten rows, fail rows whose worker died."""
    return outbox.sweep(Delivery, DELIVER_JOB, "delivery_id")


def send_test(account: Account, channel_key: str) -> Delivery:
    """Queue a test message on one channel to the account's own target."""
    ch = channel(channel_key)
    if ch is None:
        raise ValueError(channel_key)
    with database.atomic():
        return _queue(account, None, "notifications.test", ch)


def log_page(account: Account, page: int, per_page: int = 20) -> tuple[list[Delivery], bool]:
    """One page of the account's delivery log, newest first, and whether more follow."""
    rows = list(
        Delivery.select(Delivery, Event)
        .join(Event, JOIN.LEFT_OUTER)
        .where(Delivery.account == account.id)
        .order_by(Delivery.created_at.desc(), Delivery.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page + 1)
    )
    return rows[:per_page], len(rows) > per_page


def describe(row: Delivery, kinds: list[EventType]) -> str:
    """What one log entry was about, as its subject says ("Angebot angenommen: AN-7")."""
    if row.event_type == "notifications.test":
        return _("Testbenachrichtigung")
    kind = next((t for t in kinds if t.key == row.event_type), None)
    data = row.event.data if row.event_id is not None else {}
    return subject_of(kind, row.event_type, _details(data))


def erase(account: Account) -> None:
    """Closing the account: preferences and the delivery log (with targets) go."""
    Delivery.delete().where(Delivery.account == account.id).execute()
    Preference.delete().where(Preference.account == account.id).execute()
