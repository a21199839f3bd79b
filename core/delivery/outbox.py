"""Outboxes: rows written with the business change, delivered by the worker.

Every outbox (system mails, notifications, customer mails) shares the rules
here. The worker claims a row (pending -> sending) in its own committed
statement before it talks to any server, so a redelivered job, a second
worker or the sweep can never send a row twice. Temporary failures are tried
again after growing delays, permanent ones stop at once.

The row's ``stage`` records how far a delivery got: "claimed" by the claim,
"data" in its own committed statement right before the content is handed
over (SMTP DATA, the Maildir, or any sender that does not report progress).
A row left in "sending" by a worker that died is sent again by the sweep if
its stage never reached "data"; otherwise the server may have it, so it is
failed as "Zustellung nicht bestätigt" and never sent twice.

System mails may carry one-time links (invitations, password resets): their
bodies are stored encrypted with the instance keys and replaced by the bare
headers once the mail is sent or has failed for good.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from email import message_from_string
from email.message import Message
from typing import Any

import peewee
from flask import render_template
from flask_babel import gettext as _

from core.contract.values import PermanentFailure, TemporaryFailure
from core.data.db import BaseModel, database, utcnow
from core.data.models import Account
from core.delivery import smtp_client
from core.delivery.job_queue import enqueue
from core.delivery.messages import SMTP, SMTPUTF8, build_message, send_via_operator, system_sender
from core.security import crypto

#: Seconds to wait before attempt 2, 3, ...; after the last, the row fails.
RETRY_DELAYS = (30, 120, 600, 1800, 7200, 21600)
STALE_CLAIM = dt.timedelta(minutes=15)
LOST_ENQUEUE = dt.timedelta(minutes=2)


class OutboxRow(BaseModel):
    """The delivery state every outbox table carries."""

    status = peewee.CharField(max_length=10, default="pending", index=True)
    attempts = peewee.IntegerField(default=0)
    error = peewee.CharField(max_length=500, default="")
    created_at = peewee.DateTimeField(default=utcnow)
    next_attempt_at = peewee.DateTimeField(default=utcnow)
    claimed_at = peewee.DateTimeField(null=True)
    sent_at = peewee.DateTimeField(null=True)
    stage = peewee.CharField(max_length=10, default="")


def next_delay(attempts: int) -> int | None:
    """Delay before the next try after ``attempts`` failed ones, or None to give up."""
    return RETRY_DELAYS[attempts - 1] if 1 <= attempts <= len(RETRY_DELAYS) else None


def claim(model: type[OutboxRow], row_id: int) -> bool:
    """Move a due pending row to "sending"; False if another worker has it."""
    now = utcnow()
    claimed = (
        model.update(status="sending", stage="claimed", claimed_at=now, attempts=model.attempts + 1)
        .where(model.id == row_id, model.status == "pending", model.next_attempt_at <= now)
        .execute()
    )
    return bool(claimed)


def finish(row: OutboxRow, status: str, error: str = "") -> None:
    """Record the outcome of a claimed row on the row and in its table."""
    sent_at = utcnow() if status == "sent" else row.sent_at
    model = type(row)
    model.update(status=status, error=error[:500], sent_at=sent_at).where(
        model.id == row.id
    ).execute()
    row.status, row.error, row.sent_at = status, error[:500], sent_at


def reached_data(row: OutboxRow) -> None:
    """Commit that the row's content is about to go out (see the module docstring)."""
    if database.in_transaction():
        raise RuntimeError("the delivery stage must be committed at once, outside a transaction")
    model = type(row)
    model.update(stage="data").where(model.id == row.id).execute()
    row.stage = "data"


def attempt(
    row: OutboxRow,
    send: Callable[[], None],
    job: str,
    key: str,
    *,
    tracked: bool = False,
) -> str:
    """Run ``send`` for a claimed row and record the outcome; return the status.

    On a temporary failure the job ``job`` is enqueued again with ``key=row.id``
    after the next delay. ``tracked`` says that ``send`` delivers through
    :mod:`core.delivery.smtp_client` or the Maildir, which report the moment the content goes
    out; any other sender is recorded as at stage "data" before it starts.
    """
    if not tracked:
        reached_data(row)
    try:
        with smtp_client.reporting_data(lambda: reached_data(row)):
            send()
    except TemporaryFailure as exc:
        delay = next_delay(row.attempts)
        if delay is None:
            finish(row, "failed", str(exc))
            return "failed"
        type(row).update(
            status="pending",
            error=str(exc)[:500],
            next_attempt_at=utcnow() + dt.timedelta(seconds=delay),
        ).where(type(row).id == row.id).execute()
        row.status = "pending"
        enqueue(job, delay=delay, **{key: row.id})
        return "pending"
    except PermanentFailure as exc:
        finish(row, "failed", str(exc))
        return "failed"
    finish(row, "sent")
    return "sent"


def sweep(
    model: type[OutboxRow],
    job: str,
    key: str,
    on_failed: Callable[[OutboxRow], None] | None = None,
) -> int:
    """Settle rows whose worker died mid-send; re-enqueue rows whose job was lost.

    A dead worker's row whose content never went out is sent again (up to the
    usual number of attempts); one that reached "data" is failed as not
    confirmed, and ``on_failed`` is called for each row failed here.
    """
    now = utcnow()
    stale = (model.status == "sending") & (model.claimed_at < now - STALE_CLAIM)
    resend = []
    for row in model.select().where(stale):
        if row.stage != "data" and next_delay(row.attempts) is not None:
            resend.append(row.id)
            status, error = "pending", _("Verarbeitung abgebrochen, wird erneut versucht")
        elif row.stage != "data":
            status, error = "failed", _("Verarbeitung wiederholt abgebrochen")
        else:
            status, error = "failed", _("Zustellung nicht bestätigt (Verarbeitung abgebrochen)")
        settled = (
            model.update(status=status, error=error, next_attempt_at=now)
            .where(model.id == row.id, model.status == "sending", model.stage == row.stage)
            .execute()
        )
        if settled and status == "pending":
            enqueue(job, **{key: row.id})
        elif settled:
            row.status, row.error = status, error
            if isinstance(row, MailOutbox):
                drop_body(row)
            if on_failed is not None:
                on_failed(row)
    due = [
        row.id
        for row in model.select(model.id).where(
            model.status == "pending", model.next_attempt_at < now - LOST_ENQUEUE
        )
    ]
    for row_id in due:
        enqueue(job, **{key: row_id})
    return len(due) + len(resend)


# --- Kontor's own system mails (invitations) -----------------------------------


class MailOutbox(OutboxRow):
    """A system mail waiting for the worker."""

    account = peewee.ForeignKeyField(Account, null=True, on_delete="CASCADE")
    message = peewee.TextField()
    sealed = peewee.BooleanField(default=False)  # message encrypted (rows from before: plain)

    class Meta:
        table_name = "core_mail_outbox"


SYSTEM_MAIL_JOB = "core.send_mail"


CONTEXT = "core:mail_outbox"
REDACTED = "[Inhalt nach dem Versand gelöscht]"


def queue_system_mail(account: Account | None, message: Message) -> MailOutbox:
    """Store a system mail and hand it to the worker after commit.

    This is the way for any mail with a one-time link: the stored body is
    encrypted and dropped once the mail is sent or has failed for good.
    """
    sealed = crypto.encrypt(message.as_string(), CONTEXT)
    with database.atomic():
        row = MailOutbox.create(account=account, message=sealed, sealed=True)
        enqueue(SYSTEM_MAIL_JOB, outbox_id=row.id)
    return row


def queue_template_mail(
    account: Account | None, to: str, subject: str, template: str, /, **context: Any
) -> MailOutbox:
    """Queue a system mail whose text is the rendered ``template`` (e.g. with a one-time link).

    The first four are positional so that ``account`` may also be a template
    variable. Call it in the transaction that stores the token's hash; see
    :func:`queue_system_mail` for how the body is kept. Raises PermanentFailure
    when the mail cannot be built (bad address).
    """
    text = render_template(template, **context)
    return queue_system_mail(
        account, build_message(sender=system_sender(), to=to, subject=subject, text=text)
    )


def _stored_message(row: MailOutbox) -> Message:
    text = crypto.decrypt(row.message, CONTEXT) if row.sealed else row.message
    # Raw non-ASCII in a stored mail means UTF-8 addresses (bodies are quoted-printable).
    stored_policy = SMTP if text.isascii() else SMTPUTF8
    return message_from_string(text, policy=stored_policy)


def drop_body(row: MailOutbox) -> None:
    """Keep only the headers of a mail that is sent or failed for good."""
    try:
        message = _stored_message(row)
    except crypto.DecryptionError:
        row.message = REDACTED
    else:
        message.set_payload(REDACTED)
        for name in ("Content-Type", "Content-Transfer-Encoding", "MIME-Version"):
            del message[name]
        row.message = message.as_string()
    row.sealed = False
    row.save(only=[MailOutbox.message, MailOutbox.sealed])


def send_system_mail(outbox_id: int) -> None:
    """Worker side of :func:`queue_system_mail`."""
    if not claim(MailOutbox, outbox_id):
        return
    row = MailOutbox.get_by_id(outbox_id)
    try:
        message = _stored_message(row)
    except crypto.DecryptionError:
        finish(row, "failed", _("Die E-Mail konnte nicht entschlüsselt werden."))
        return
    status = attempt(
        row, lambda: send_via_operator(message), SYSTEM_MAIL_JOB, "outbox_id", tracked=True
    )
    if status != "pending":
        drop_body(row)


def sweep_system_mail() -> int:
    return sweep(MailOutbox, SYSTEM_MAIL_JOB, "outbox_id")
