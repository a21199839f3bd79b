"""The account's data lifecycle: the data export and closing the account.

Export: the owner asks, the worker builds a ZIP (one JSON file per section
from ``kontor_account_export``, the files plugins add, the customer e-mail
history) and mails a one-time link, stored as a hash, valid seven days. The
file is deleted on the first download or when the link expires.

Closing: the owner confirms with the password; plugins end what they provide
(``kontor_account_closing``, e.g. the subscription) and may name when their
paid service ends. Until ``erase_at`` (30 days, or later if the service runs
longer) the owner can undo; then ``kontor_erase_account`` erases personal
data in every plugin's tables. What § 147 AO and § 257 HGB require (billing
records, invoices, the billing address on them) stays with the anonymised
account row until the retention period ends, then the row and everything
still hanging off it is deleted.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import secrets
import zipfile
from pathlib import Path
from typing import Any

import peewee
from flask import current_app
from flask_babel import gettext as _

from core.contract.values import ExportPart
from core.data.accounts import AccountError
from core.data.db import BaseModel, database, for_update, utcnow
from core.data.models import Account, EmailLink, Event, Invitation, User, UserSession
from core.delivery.customer_mail import CustomerMail, CustomerMailRecipient
from core.delivery.job_queue import enqueue
from core.delivery.outbox import MailOutbox, queue_template_mail
from core.security.auth import token_hash, verify_password
from core.web.blueprints import external_url

EXPORT_JOB = "core.build_export"
EXPORT_VALID = dt.timedelta(days=7)
STALE_PENDING = dt.timedelta(hours=1)
GRACE = dt.timedelta(days=30)
RETENTION_YEARS = 10  # § 147 Abs. 3 AO, § 257 Abs. 4 HGB
EXPORT_FOLDER = "exports"
ERASED_NAME = "Gelöschtes Konto"


class DataExport(BaseModel):
    """A requested export: "pending" until the worker built it, then "ready".

    Only the link token's SHA-256 is stored; the row and its file go on the
    first download or when the link expires.
    """

    account = peewee.ForeignKeyField(Account, on_delete="CASCADE")
    user = peewee.ForeignKeyField(User, on_delete="CASCADE")
    status = peewee.CharField(max_length=10, default="pending")
    token_hash = peewee.CharField(max_length=64, null=True, unique=True)
    file_name = peewee.CharField(max_length=100, default="")
    created_at = peewee.DateTimeField(default=utcnow)
    expires_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "core_data_export"


MODELS = (DataExport,)


def _pm() -> Any:
    return current_app.extensions["kontor"].pm


def _folder() -> Path:
    folder = Path(current_app.instance_path) / EXPORT_FOLDER
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def _remove_file(row: DataExport) -> None:
    if row.file_name:
        (_folder() / row.file_name).unlink(missing_ok=True)


# --- Data export ---------------------------------------------------------------


def request_export(user: User) -> DataExport:
    """Queue an export for the user's account; a pending one is not doubled
    (unless its job was lost: after an hour it is replaced)."""
    with database.atomic():
        pending = DataExport.select().where(
            DataExport.account == user.account_id, DataExport.status == "pending"
        )
        fresh = pending.where(DataExport.created_at > utcnow() - STALE_PENDING).first()
        if fresh is not None:
            return fresh
        DataExport.delete().where(DataExport.id.in_([row.id for row in pending])).execute()
        row = DataExport.create(account=user.account_id, user=user)
        enqueue(EXPORT_JOB, export_id=row.id)
    return row


def _customer_mail_history(account: Account) -> list[dict[str, Any]]:
    mails = (
        CustomerMail.select().where(CustomerMail.account == account.id).order_by(CustomerMail.id)
    )
    recipients: dict[int, list[dict[str, str]]] = {}
    for r in (
        CustomerMailRecipient.select().join(CustomerMail).where(CustomerMail.account == account.id)
    ):
        recipients.setdefault(r.mail_id, []).append(
            {"address": r.address, "status": r.status, "error": r.error}
        )
    return [
        {
            "created_at": m.created_at.isoformat(),
            "sent_at": m.sent_at.isoformat() if m.sent_at else None,
            "status": m.status,
            "transport": m.transport,
            "customer_ref": m.customer_ref,
            "customer_name": m.customer_name,
            "subject": m.subject,
            "text": m.text,
            "recipients": recipients.get(m.id, []),
        }
        for m in mails
    ]


def export_parts(account: Account) -> list[ExportPart]:
    """Every section's share of the account's data, sorted by key."""
    parts = [p for p in _pm().hook.kontor_account_export(account=account) if p is not None]
    parts.append(ExportPart("email_history", {"mails": _customer_mail_history(account)}))
    return sorted(parts, key=lambda p: p.key)


def build_zip(account: Account) -> bytes:
    """The export as a ZIP: ``<key>.json`` per section and ``<key>/<name>`` files."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for part in export_parts(account):
            text = json.dumps(part.data, ensure_ascii=False, indent=2, default=str)
            archive.writestr(f"{part.key}.json", text)
            for name, content in part.files.items():
                archive.writestr(f"{part.key}/{Path(name).name}", content)
    return buffer.getvalue()


def build_export(export_id: int) -> None:
    """Worker job: write the ZIP, store the link's hash and mail the link."""
    row = DataExport.get_or_none(DataExport.id == export_id)
    if row is None or row.status != "pending":
        return
    content = build_zip(row.account)
    file_name = f"{row.id}-{secrets.token_hex(16)}.zip"
    path = _folder() / file_name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
    token = secrets.token_urlsafe(32)
    expires_at = utcnow() + EXPORT_VALID
    user = row.user
    with database.atomic():
        updated = (
            DataExport.update(
                status="ready",
                token_hash=token_hash(token),
                file_name=file_name,
                expires_at=expires_at,
            )
            .where(DataExport.id == row.id, DataExport.status == "pending")
            .execute()
        )
        if not updated:  # built twice (a redelivered job): keep the first
            path.unlink(missing_ok=True)
            return
        queue_template_mail(
            row.account,
            user.email,
            _("Ihr Datenexport ist bereit"),
            "core/mail/export_ready.txt",
            user=user,
            link=external_url("core.download_export", token=token),
            until=expires_at,
        )


def take_export(user: User, token: str) -> bytes | None:
    """The ZIP for a live link of this user, deleted as it is handed out.

    None for an unknown, used or expired link and for any other user.
    """
    row = DataExport.get_or_none(
        DataExport.token_hash == token_hash(token[:100]),
        DataExport.status == "ready",
        DataExport.expires_at > utcnow(),
    )
    if row is None or row.user_id != user.id:
        return None
    if not DataExport.delete().where(DataExport.id == row.id).execute():
        return None  # downloaded at the same moment by another request
    path = _folder() / row.file_name
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        return None
    path.unlink(missing_ok=True)
    return content


def sweep_exports(now: dt.datetime | None = None) -> int:
    """Periodic job: delete expired exports and their files, and files whose
    row went with its user (older than a day, so never one being written)."""
    now = now or utcnow()
    expired = list(
        DataExport.select().where(DataExport.status == "ready", DataExport.expires_at <= now)
    )
    for row in expired:
        _remove_file(row)
        DataExport.delete().where(DataExport.id == row.id).execute()
    known = {row.file_name for row in DataExport.select(DataExport.file_name)}
    cutoff = (now - dt.timedelta(days=1)).replace(tzinfo=dt.UTC).timestamp()
    for path in _folder().glob("*.zip"):
        if path.name not in known and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
    return len(expired)


# --- Closing the account -------------------------------------------------------


def owner_of(account: Account) -> User | None:
    return (
        User.select()
        .where(User.account == account.id, User.role == "owner")
        .order_by(User.id)
        .first()
    )


def request_closing(
    user: User, password: str, immediately: bool, now: dt.datetime | None = None
) -> dt.datetime:
    """Mark the account as closing and end its paid services; return ``erase_at``.

    The password is checked first: a wrong one changes nothing.
    """
    if not verify_password(user, password):
        raise AccountError(_("Das aktuelle Passwort ist falsch."), "current_password")
    now = now or utcnow()
    with database.atomic():
        account = for_update(Account.select().where(Account.id == user.account_id)).get()
        if account.is_closing:
            return account.erase_at
        ends = _pm().hook.kontor_account_closing(account=account, immediately=immediately)
        erase_at = max([now + GRACE, *ends])
        Account.update(closing_requested_at=now, erase_at=erase_at).where(
            Account.id == account.id
        ).execute()
        queue_template_mail(
            account,
            user.email,
            _("Ihr Konto wird geschlossen"),
            "core/mail/account_closing.txt",
            user=user,
            erase_at=erase_at,
            immediately=immediately,
            link=external_url("core.profile"),
        )
    return erase_at


def undo_closing(user: User, now: dt.datetime | None = None) -> bool:
    """Take the closing back during the grace period; False if there is none
    or it has ended (erasure is due, even if the job has not run yet)."""
    with database.atomic():
        account = for_update(Account.select().where(Account.id == user.account_id)).get()
        if not account.is_closing or account.erase_at <= (now or utcnow()):
            return False
        Account.update(closing_requested_at=None, erase_at=None).where(
            Account.id == account.id
        ).execute()
        _pm().hook.kontor_account_reopened(account=account)
        queue_template_mail(
            account,
            user.email,
            _("Die Schließung Ihres Kontos wurde zurückgenommen"),
            "core/mail/account_reopened.txt",
            user=user,
            link=external_url("core.overview"),
        )
    return True


def erase_core(account: Account) -> None:
    """Core's part of ``kontor_erase_account``: users, logins, links, events,
    system and customer mails and exports go; the account row stays anonymised."""
    for row in DataExport.select().where(DataExport.account == account.id):
        _remove_file(row)
    DataExport.delete().where(DataExport.account == account.id).execute()
    users = User.select(User.id).where(User.account == account.id)
    EmailLink.delete().where(EmailLink.user.in_(users)).execute()
    UserSession.delete().where(UserSession.user.in_(users)).execute()
    Invitation.delete().where(Invitation.account == account.id).execute()
    mails = CustomerMail.select(CustomerMail.id).where(CustomerMail.account == account.id)
    CustomerMailRecipient.delete().where(CustomerMailRecipient.mail.in_(mails)).execute()
    CustomerMail.delete().where(CustomerMail.account == account.id).execute()
    MailOutbox.delete().where(MailOutbox.account == account.id).execute()
    Event.delete().where(Event.account == account.id).execute()
    User.delete().where(User.account == account.id).execute()
    Account.update(
        company_name=f"{ERASED_NAME} {account.id}", notification_email=None, mobile_number=None
    ).where(Account.id == account.id).execute()


def retained_until(erased_at: dt.datetime) -> dt.datetime:
    """End of the retention period: it starts with the end of the calendar year."""
    return dt.datetime(erased_at.year + RETENTION_YEARS + 1, 1, 1)


def erase_due(now: dt.datetime | None = None) -> int:
    """Periodic job: erase accounts whose grace period is over, drop the settled
    mails of erased accounts (the last one names the owner) and delete the
    tombstones whose retention period has ended. Returns how many were erased."""
    now = now or utcnow()
    due = Account.select(Account.id).where(Account.erase_at <= now, Account.erased_at.is_null())
    erased = 0
    for row in list(due):
        with database.atomic():
            account = for_update(Account.select().where(Account.id == row.id)).get()
            if not account.is_closing or account.erase_at > now:
                continue
            owner = owner_of(account)
            _pm().hook.kontor_erase_account(account=account)
            Account.update(erased_at=now).where(Account.id == account.id).execute()
            if owner is not None:  # to the address before erasure
                queue_template_mail(
                    account,
                    owner.email,
                    _("Ihr Konto wurde gelöscht"),
                    "core/mail/account_erased.txt",
                    name=owner.full_name,
                    erased_at=now,
                    until=retained_until(now),
                )
            erased += 1
    # The last mail's headers name the owner: gone once it is settled.
    tombstones = Account.select(Account.id).where(Account.erased_at.is_null(False))
    MailOutbox.delete().where(
        MailOutbox.account.in_(tombstones), MailOutbox.status.in_(("sent", "failed"))
    ).execute()
    purge = [
        a.id
        for a in Account.select(Account.id, Account.erased_at).where(
            Account.erased_at.is_null(False)
        )
        if retained_until(a.erased_at) <= now
    ]
    if purge:
        Account.delete().where(Account.id.in_(purge)).execute()
    return erased
