"""Consent, staff logins, support sessions and the access log."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

import pyotp
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from core import (
    Account,
    User,
    database,
    decrypt,
    emit,
    encrypt,
    format_when,
    hash_password,
    matching_step,
    per_request,
    token_hash,
    utcnow,
    verify_password,
)
from plugins.remote_support.models import (
    AccessLog,
    Grant,
    Staff,
    StaffSession,
    SupportSession,
)

DURATIONS: dict[str, dt.timedelta | None] = {
    "24h": dt.timedelta(hours=24),
    "7d": dt.timedelta(days=7),
    "30d": dt.timedelta(days=30),
    "unlimited": None,
}
DURATION_LABELS = {
    "24h": _l("24 Stunden"),
    "7d": _l("7 Tage"),
    "30d": _l("30 Tage"),
    "unlimited": _l("bis auf Widerruf"),
}
SCOPE_LABELS = {"full": _l("Vollzugriff"), "read": _l("Nur lesen")}
STAFF_SESSION_HOURS = 10
TOTP_CONTEXT = "remote_support:staff:{}"


class SupportError(ValueError):
    """A refused support action, with a German message."""


# --- access log ------------------------------------------------------------


def log(account: Account | int, actor: str, action: str, detail: str = "") -> None:
    AccessLog.create(account=account, actor=actor[:201], action=action, detail=detail[:500])


def access_log(account: Account, limit: int = 100) -> list[AccessLog]:
    return list(
        AccessLog.select()
        .where(AccessLog.account == account.id)
        .order_by(AccessLog.at.desc(), AccessLog.id.desc())
        .limit(limit)
    )


# --- consent -----------------------------------------------------------------


def active_grant(account: Account | int) -> Grant | None:
    account_id = account if isinstance(account, int) else account.id
    return per_request(("grant", account_id), lambda: _active_grant(account_id))


def _active_grant(account_id: int) -> Grant | None:
    return (
        Grant.select()
        .where(
            Grant.account == account_id,
            Grant.revoked_at.is_null(),
            (Grant.expires_at.is_null()) | (Grant.expires_at > utcnow()),
        )
        .order_by(Grant.id.desc())
        .first()
    )


def _end_sessions(grant: Grant, why: str) -> None:
    for row in (
        SupportSession.select(SupportSession, Staff)
        .join(Staff)
        .where(SupportSession.grant == grant, SupportSession.ended_at.is_null())
    ):
        row.ended_at = utcnow()
        row.save(only=[SupportSession.ended_at])
        log(grant.account_id, row.staff.name, "session_end", why)


def grant(account: Account, user: User, duration: str, scope: str) -> Grant:
    """Grant (or replace) the consent; replacing ends running sessions."""
    if duration not in DURATIONS or scope not in SCOPE_LABELS:
        raise SupportError(_("Ungültige Dauer oder ungültiger Umfang."))
    now = utcnow()
    with database.atomic():
        previous = active_grant(account)
        if previous is not None:
            previous.revoked_at = now
            previous.save(only=[Grant.revoked_at])
            _end_sessions(previous, _("Genehmigung geändert"))
        span = DURATIONS[duration]
        row = Grant.create(
            account=account,
            granted_by=user,
            granted_by_name=user.full_name,
            granted_at=now,
            expires_at=now + span if span else None,
            scope=scope,
        )
        until = (
            _("bis auf Widerruf")
            if span is None
            else _("bis %(until)s", until=format_when(row.expires_at))
        )
        log(account, user.full_name, "grant", f"{SCOPE_LABELS[scope]}, {until}")
    return row


def revoke(account: Account, user: User) -> bool:
    """Withdraw the consent; running support sessions end at once."""
    with database.atomic():
        current = active_grant(account)
        if current is None:
            return False
        current.revoked_at = utcnow()
        current.save(only=[Grant.revoked_at])
        _end_sessions(current, _("Genehmigung widerrufen"))
        log(account, user.full_name, "revoke")
    return True


def expire_grants() -> int:
    """Periodic job: log expiries and end the sessions of expired grants."""
    count = 0
    for row in Grant.select().where(
        Grant.revoked_at.is_null(),
        Grant.expires_at <= utcnow(),
        Grant.ended_logged == False,  # noqa: E712
    ):
        with database.atomic():
            row.ended_logged = True
            row.save(only=[Grant.ended_logged])
            _end_sessions(row, _("Genehmigung abgelaufen"))
            log(row.account_id, "System", "expire")
        count += 1
    return count


# --- staff -------------------------------------------------------------------


def create_staff(email: str, name: str, password: str) -> tuple[Staff, str]:
    """Create a staff login; returns it with the otpauth URI for the TOTP app."""
    secret = pyotp.random_base32()
    with database.atomic():
        staff = Staff.create(
            email=email.strip().lower(),
            name=name.strip(),
            password_hash=hash_password(password),
            totp_secret="",
        )
        staff.totp_secret = encrypt(secret, TOTP_CONTEXT.format(staff.id))
        staff.save(only=[Staff.totp_secret])
    uri = pyotp.TOTP(secret).provisioning_uri(name=staff.email, issuer_name="Kontor Support")
    return staff, uri


def _totp_ok(staff: Staff, code: str) -> bool:
    """Check a TOTP code (±1 step) and refuse any step used before (replay)."""
    secret = decrypt(staff.totp_secret, TOTP_CONTEXT.format(staff.id))
    step = matching_step(secret, code, staff.last_totp_step)
    if step is None:
        return False
    updated = (
        Staff.update(last_totp_step=step)
        .where(Staff.id == staff.id, Staff.last_totp_step < step)
        .execute()
    )
    return bool(updated)


def staff_login(email: str, password: str, code: str) -> str | None:
    """Verify password and TOTP; return a new staff session token or None."""
    staff = Staff.get_or_none(Staff.email == email.strip().lower())
    if not verify_password(staff, password) or not _totp_ok(staff, code.strip()):
        return None
    token = secrets.token_urlsafe(32)
    StaffSession.create(
        token_hash=token_hash(token),
        staff=staff,
        expires_at=utcnow() + dt.timedelta(hours=STAFF_SESSION_HOURS),
    )
    return token


def load_staff(token: str | None) -> Staff | None:
    if not token:
        return None
    row = (
        StaffSession.select(StaffSession, Staff)
        .join(Staff)
        .where(
            StaffSession.token_hash == token_hash(token),
            StaffSession.revoked_at.is_null(),
            StaffSession.expires_at > utcnow(),
        )
        .first()
    )
    return row.staff if row else None


def end_staff_session(token: str) -> None:
    StaffSession.update(revoked_at=utcnow()).where(
        StaffSession.token_hash == token_hash(token)
    ).execute()


def accounts_with_grant() -> list[tuple[Account, Grant]]:
    now = utcnow()
    rows = (
        Grant.select(Grant, Account)
        .join(Account)
        .where(Grant.revoked_at.is_null(), (Grant.expires_at.is_null()) | (Grant.expires_at > now))
        .order_by(Account.company_name)
    )
    return [(row.account, row) for row in rows]


# --- support sessions ---------------------------------------------------------


@dataclass
class SupportActor:
    """What flask-login sees during a support session."""

    staff: Staff
    session: SupportSession
    grant: Grant
    account: Account
    user: User
    token: str
    staff_token: str

    is_authenticated = True
    is_active = True
    is_anonymous = False
    is_support = True
    is_manager = True  # acts with the owner's view; sensitive actions are blocked

    @property
    def read_only(self) -> bool:
        return self.grant.scope == "read"

    @property
    def full_name(self) -> str:
        return self.staff.name

    @property
    def email(self) -> str:
        return self.user.email

    @property
    def id(self) -> int:
        return self.user.id

    def get_id(self) -> str:
        return f"support:{self.token}"

    def end(self) -> None:
        """End this support session; the staff login stays (back to the console)."""
        SupportSession.update(ended_at=utcnow()).where(
            SupportSession.id == self.session.id, SupportSession.ended_at.is_null()
        ).execute()
        log(self.account, self.staff.name, "session_end", _("Vom Support beendet"))

    def sign_out(self) -> None:
        """Log out: end this support session and the staff login it runs under,
        so a copy of the cookie opens neither."""
        self.end()
        end_staff_session(self.staff_token)


def start_support(staff: Staff, account_id: int, reason: str) -> str:
    """Open a support session in an account with an active grant; return its token."""
    account = Account.get_or_none(Account.id == account_id)
    if account is None:
        raise SupportError(_("Dieses Konto gibt es nicht."))
    if active_grant(account) is None:  # logged outside the refused transaction
        log(account, staff.name, "denied", _("Kein Zugriff ohne Genehmigung"))
        raise SupportError(_("Für dieses Konto liegt keine Genehmigung zur Fernwartung vor."))
    with database.atomic():
        current = active_grant(account)
        if current is None:
            raise SupportError(_("Für dieses Konto liegt keine Genehmigung zur Fernwartung vor."))
        token = secrets.token_urlsafe(32)
        SupportSession.create(
            token_hash=token_hash(token),
            staff=staff,
            account=account,
            grant=current,
            reason=reason,
        )
        log(account, staff.name, "session_start", reason)
        emit(account, "support.session_started", {"Mitarbeiter": staff.name, "Grund": reason})
    return token


def load_support(token: str, staff_token: str | None) -> SupportActor | None:
    """The support session for ``token`` while it, its grant and the staff
    login it was started from (``staff_token``) are all active."""
    if not staff_token:
        return None
    now = utcnow()
    row = (
        SupportSession.select(SupportSession, Staff, Grant, Account)
        .join(Staff)
        .join(StaffSession)
        .switch(SupportSession)
        .join(Grant)
        .switch(SupportSession)
        .join(Account)
        .where(
            SupportSession.token_hash == token_hash(token),
            SupportSession.ended_at.is_null(),
            Grant.revoked_at.is_null(),
            (Grant.expires_at.is_null()) | (Grant.expires_at > now),
            StaffSession.token_hash == token_hash(staff_token),
            StaffSession.revoked_at.is_null(),
            StaffSession.expires_at > now,
        )
        .first()
    )
    if row is None:
        return None
    owner = User.get_or_none(User.account == row.account, User.role == "owner")
    return SupportActor(row.staff, row, row.grant, row.account, owner, token, staff_token)


def erase(account: Account) -> None:
    """Closing the account: consents, support sessions and the access log go."""
    SupportSession.delete().where(SupportSession.account == account.id).execute()
    Grant.delete().where(Grant.account == account.id).execute()
    AccessLog.delete().where(AccessLog.account == account.id).execute()
