"""Outboxes: rows written with the business change, delivered by the worker.

Every outbox (system mails, notifications, customer mails) shares the rules
here. The worker claims a row (pending -> sending) in its own committed
statement before it talks to any server, so a redelivered job, a second
worker or the sweep can never send a row twice. Temporary failures are tried
again after growing delays, permanent ones stop at once. A row left in
"sending" by a worker that died is marked failed by the sweep, never resent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from email import message_from_string, policy
from email.message import Message

import peewee
from flask_babel import gettext as _
from playhouse.migrate import SchemaMigrator, migrate

from core.db import BaseModel, database, utcnow
from core.mail import send_via_operator
from core.models import Account
from core.queue import enqueue
from core.types import Migration, PermanentFailure, TemporaryFailure

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


def next_delay(attempts: int) -> int | None:
    """Delay before the next try after ``attempts`` failed ones, or None to give up."""
    return RETRY_DELAYS[attempts - 1] if 1 <= attempts <= len(RETRY_DELAYS) else None


def claim(model: type[OutboxRow], row_id: int) -> bool:
    """Move a due pending row to "sending"; False if another worker has it."""
    now = utcnow()
    claimed = (
        model.update(status="sending", claimed_at=now, attempts=model.attempts + 1)
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


def attempt(row: OutboxRow, send: Callable[[], None], job: str, key: str) -> str:
    """Run ``send`` for a claimed row and record the outcome; return the status.

    On a temporary failure the job ``job`` is enqueued again with ``key=row.id``
    after the next delay.
    """
    try:
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


def sweep(model: type[OutboxRow], job: str, key: str) -> int:
    """Fail rows whose worker died mid-send; re-enqueue rows whose job was lost."""
    now = utcnow()
    model.update(
        status="failed", error=_("Zustellung nicht bestätigt (Verarbeitung abgebrochen)")
    ).where(model.status == "sending", model.claimed_at < now - STALE_CLAIM).execute()
    due = [
        row.id
        for row in model.select(model.id).where(
            model.status == "pending", model.next_attempt_at < now - LOST_ENQUEUE
        )
    ]
    for row_id in due:
        enqueue(job, **{key: row_id})
    return len(due)


# --- Kontor's own system mails (invitations) -----------------------------------


class MailOutbox(OutboxRow):
    """A system mail waiting for the worker."""

    account = peewee.ForeignKeyField(Account, null=True, on_delete="CASCADE")
    message = peewee.TextField()
    #: The body holds a one-time link: it is dropped once the row is finished.
    one_time = peewee.BooleanField(default=False)

    class Meta:
        table_name = "core_mail_outbox"


def _add_one_time(db: peewee.Database) -> None:
    """Add the column to tables made before it existed (0001 creates the table
    as the model is defined now, so a fresh database has it already)."""
    if any(column.name == "one_time" for column in db.get_columns("core_mail_outbox")):
        return
    migrator = SchemaMigrator.from_database(db)
    migrate(migrator.add_column("core_mail_outbox", "one_time", MailOutbox.one_time))


ONE_TIME_MIGRATION = Migration(id="0004_outbox_one_time", apply=_add_one_time)

#: What a finished one-time mail keeps in place of its body.
REDACTED_BODY = "(Inhalt nach dem Versand entfernt: er enthielt einen einmaligen Link.)\n"


SYSTEM_MAIL_JOB = "core.send_mail"


def queue_system_mail(
    account: Account | None, message: Message, one_time: bool = False
) -> MailOutbox:
    """Store a system mail and hand it to the worker after commit.

    ``one_time``: the body holds a one-time link, so no reusable secret may
    stay in the table once the mail is sent or has failed for good; only the
    headers are kept then (for the history).
    """
    with database.atomic():
        row = MailOutbox.create(account=account, message=message.as_string(), one_time=one_time)
        enqueue(SYSTEM_MAIL_JOB, outbox_id=row.id)
    return row


def send_system_mail(outbox_id: int) -> None:
    """Worker side of :func:`queue_system_mail`."""
    if not claim(MailOutbox, outbox_id):
        return
    row = MailOutbox.get_by_id(outbox_id)
    message = message_from_string(row.message, policy=policy.default)
    status = attempt(row, lambda: send_via_operator(message), SYSTEM_MAIL_JOB, "outbox_id")
    if row.one_time and status != "pending":
        headers = row.message.split("\n\n", 1)[0]
        MailOutbox.update(message=f"{headers}\n\n{REDACTED_BODY}").where(
            MailOutbox.id == row.id
        ).execute()


def sweep_system_mail() -> int:
    return sweep(MailOutbox, SYSTEM_MAIL_JOB, "outbox_id")
