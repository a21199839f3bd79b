"""Delivery bookkeeping shared by every outbox: retries with backoff.

Temporary failures are tried again after growing delays; permanent ones
stop at once. Core's own system mails (invitations) use it through
``core.send_mail``; plugins use :func:`next_delay` for their own outboxes.
"""

from __future__ import annotations

import datetime as dt
from email import message_from_string, policy
from email.message import EmailMessage

from core.db import database, utcnow
from core.mail import send_via_operator
from core.models import Account, MailOutbox
from core.queue import enqueue
from core.types import Job, PeriodicJob, PermanentFailure, TemporaryFailure

#: Seconds to wait before attempt 2, 3, ...; after the last, the row fails.
RETRY_DELAYS = (30, 120, 600, 1800, 7200, 21600)


def next_delay(attempts: int) -> int | None:
    """Delay before the next try after ``attempts`` failed ones, or None to give up."""
    return RETRY_DELAYS[attempts - 1] if 1 <= attempts <= len(RETRY_DELAYS) else None


def queue_system_mail(account: Account | None, message: EmailMessage) -> MailOutbox:
    """Store a system mail and hand it to the worker after commit."""
    with database.atomic():
        row = MailOutbox.create(account=account, message=message.as_string())
        enqueue("core.send_mail", outbox_id=row.id)
    return row


def send_mail_job(outbox_id: int) -> None:
    """Worker side of ``queue_system_mail``."""
    with database.atomic():
        row = MailOutbox.get_or_none(MailOutbox.id == outbox_id, MailOutbox.status == "pending")
        if row is None:
            return
        row.attempts += 1
        row.save(only=[MailOutbox.attempts])
    message = message_from_string(row.message, policy=policy.default)
    try:
        send_via_operator(message)  # type: ignore[arg-type]
    except TemporaryFailure as exc:
        delay = next_delay(row.attempts)
        MailOutbox.update(
            status="pending" if delay else "failed",
            error=str(exc),
            next_attempt_at=utcnow() + dt.timedelta(seconds=delay or 0),
        ).where(MailOutbox.id == row.id).execute()
        if delay:
            enqueue("core.send_mail", delay=delay, outbox_id=row.id)
        return
    except PermanentFailure as exc:
        MailOutbox.update(status="failed", error=str(exc)).where(MailOutbox.id == row.id).execute()
        return
    MailOutbox.update(status="sent", sent_at=utcnow(), error="").where(
        MailOutbox.id == row.id
    ).execute()


def sweep_system_mail() -> None:
    """Re-enqueue rows whose turn is long past (lost enqueue, dead worker)."""
    cutoff = utcnow() - dt.timedelta(minutes=10)
    for row in MailOutbox.select(MailOutbox.id).where(
        MailOutbox.status == "pending", MailOutbox.next_attempt_at < cutoff
    ):
        enqueue("core.send_mail", outbox_id=row.id)


JOBS = (Job(name="core.send_mail", func=send_mail_job),)
PERIODIC_JOBS = (PeriodicJob(name="core.sweep_mail", func=sweep_system_mail, minute="*/5"),)
