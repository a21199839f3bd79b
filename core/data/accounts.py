"""Account and user logic, free of request state so it is tested directly."""

from __future__ import annotations

import datetime as dt
import json
import secrets

import peewee
from flask import current_app
from flask_babel import gettext as _

from core.data.db import database, for_update, utcnow
from core.data.models import Account, EmailLink, Invitation, User, UserSession
from core.security.auth import hash_password, revoke_sessions, token_hash, verify_password
from core.security.sign_ins import record_failure
from core.web.request_memo import per_request


class AccountError(ValueError):
    """A business rule refused the change; ``field`` names the form field."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def email_taken(email: str, exclude: User | None = None) -> bool:
    query = User.select().where(User.email == email.lower())
    if exclude is not None:
        query = query.where(User.id != exclude.id)
    return query.exists()


def _create_owner(
    company_name: str, first_name: str, last_name: str, email: str, password_hash: str
) -> tuple[User, bool]:
    """Create an account and its owner; return the owner and True, or, when the
    address is taken (also by a concurrent request), its user and False."""
    email = email.lower()
    try:
        with database.atomic():
            existing = User.get_or_none(User.email == email)
            if existing is not None:
                return existing, False
            account = Account.create(company_name=company_name, notification_email=email)
            user = User.create(
                account=account,
                email=email,
                password_hash=password_hash,
                first_name=first_name,
                last_name=last_name,
                role="owner",
            )
    except peewee.IntegrityError:  # registered by a concurrent request just now
        return User.get(User.email == email), False
    return user, True


def register(company_name: str, first_name: str, last_name: str, email: str, password: str) -> User:
    """Create an account and its owner at once (the command line and tests; the
    sign-up form confirms the address first). Raises AccountError if the address
    is taken."""
    user, created = _create_owner(
        company_name, first_name, last_name, email, hash_password(password)
    )
    if not created:
        raise AccountError(_("Die Registrierung war nicht möglich."), "email")
    return user


def authenticate(email: str, password: str) -> User | None:
    """Return the user for these credentials, or None (same time either way).

    A wrong password for a registered address goes into that user's sign-in
    history; an unknown address leaves no trace.
    """
    user = User.get_or_none(User.email == email.strip().lower())
    if verify_password(user, password):
        return user
    if user is not None:
        record_failure(user, "password")
    return None


def update_profile(user: User, first_name: str, last_name: str) -> None:
    User.update(first_name=first_name, last_name=last_name).where(User.id == user.id).execute()


# --- One-time links by mail ---------------------------------------------------

RESET_VALID = dt.timedelta(hours=1)
CONFIRM_VALID = dt.timedelta(hours=24)


def _issue(
    purpose: str, email: str, valid: dt.timedelta, user: User | None = None, data: str = "{}"
) -> str:
    """Store a new link for ``purpose`` and return its token (kept only as a hash).

    A new link replaces the older ones of the same purpose for that user or
    address, so only the last mail works.
    """
    token = secrets.token_urlsafe(32)
    with database.atomic():
        older = EmailLink.delete().where(EmailLink.purpose == purpose)
        older = (
            older.where(EmailLink.user == user) if user else older.where(EmailLink.email == email)
        )
        older.execute()
        EmailLink.create(
            purpose=purpose,
            token_hash=token_hash(token),
            user=user,
            email=email,
            data_json=data,
            expires_at=utcnow() + valid,
        )
    return token


def find_link(purpose: str, token: str) -> EmailLink | None:
    """The live link for ``token`` (None when unknown, used, expired or mangled)."""
    return EmailLink.get_or_none(
        EmailLink.purpose == purpose,
        EmailLink.token_hash == token_hash(token[:100]),
        EmailLink.expires_at > utcnow(),
    )


def _redeem(purpose: str, token: str) -> EmailLink | None:
    """Take the live link out of the table: whoever deletes it may use it, once."""
    link = find_link(purpose, token)
    if link is None:
        return None
    deleted = EmailLink.delete().where(EmailLink.id == link.id).execute()
    return link if deleted else None


def request_password_reset(email: str) -> tuple[User | None, str]:
    """Return the user of ``email`` with a fresh reset token (valid 1 hour).

    For an unknown address a token is made and hashed too but nothing is
    stored or sent, so the caller answers both alike after the same work.
    """
    email = email.strip().lower()
    user = User.get_or_none(User.email == email)
    if user is None:
        token = secrets.token_urlsafe(32)
        token_hash(token)
        return None, token
    return user, _issue("reset", email, RESET_VALID, user=user)


def reset_password(token: str, new_password: str) -> User | None:
    """Set a new password through a reset link; ends every session of the user.

    None (and no change) when the link is unknown, used or expired.
    """
    password_hash = hash_password(new_password)
    with database.atomic():
        link = _redeem("reset", token)
        if link is None:
            return None
        user = link.user
        User.update(password_hash=password_hash).where(User.id == user.id).execute()
        revoke_sessions(user)
        Invitation.delete().where(Invitation.user == user).execute()
    return user


def confirm_password(user: User, current_password: str) -> None:
    """Refuse a change to the login unless ``current_password`` is the user's password."""
    if not verify_password(user, current_password):
        raise AccountError(_("Das aktuelle Passwort ist falsch."), "current_password")


def change_email(user: User, current_password: str, new_email: str) -> str:
    """Ask for a new login address: return the token of the link to send to it.

    The address changes only when that link is opened (valid 24 hours).
    """
    confirm_password(user, current_password)
    new_email = new_email.lower()
    if new_email == user.email or email_taken(new_email, exclude=user):
        raise AccountError(_("Diese E-Mail-Adresse kann nicht verwendet werden."), "new_email")
    return _issue("email", new_email, CONFIRM_VALID, user=user)


def pending_email(user: User) -> EmailLink | None:
    """The address change waiting for its confirmation, if any."""
    return (
        EmailLink.select()
        .where(
            EmailLink.purpose == "email", EmailLink.user == user, EmailLink.expires_at > utcnow()
        )
        .first()
    )


def resend_email_change(user: User) -> tuple[str, str] | None:
    """A new link for the pending address change: (address, token), or None."""
    pending = pending_email(user)
    if pending is None:
        return None
    return pending.email, _issue("email", pending.email, CONFIRM_VALID, user=user)


def cancel_email_change(user: User) -> None:
    EmailLink.delete().where(EmailLink.purpose == "email", EmailLink.user == user).execute()


def confirm_email_change(token: str, keep: UserSession | None) -> tuple[User, str] | None:
    """Make the confirmed address the login address; return (user, old address).

    Ends every session of the user but ``keep``. None when the link is not
    live; AccountError when the address was taken in the meantime.
    """
    with database.atomic():
        link = _redeem("email", token)
        if link is None:
            return None
        user = link.user
        if email_taken(link.email, exclude=user):
            raise AccountError(_("Diese E-Mail-Adresse kann nicht verwendet werden."))
        old = user.email
        User.update(email=link.email).where(User.id == user.id).execute()
        revoke_sessions(user, keep=keep if keep and keep.user_id == user.id else None)
        user.email = link.email
    return user, old


def start_sign_up(
    company_name: str, first_name: str, last_name: str, email: str, password: str
) -> tuple[User | None, str | None]:
    """Register without creating anything yet: (None, token) for a new address,
    whose account is created when the link is opened; (its user, None) for a
    registered one, which changes nothing. The password is hashed either way."""
    password_hash = hash_password(password)
    email = email.lower()
    existing = User.get_or_none(User.email == email)
    if existing is not None:
        return existing, None
    data = {
        "company_name": company_name,
        "first_name": first_name,
        "last_name": last_name,
        "password_hash": password_hash,
    }
    return None, _issue("signup", email, CONFIRM_VALID, data=json.dumps(data))


def resend_sign_up(email: str) -> tuple[User | None, str | None]:
    """Send the registration mail again: like :func:`start_sign_up`, with the
    details of the pending registration; (None, None) when there is none."""
    email = email.strip().lower()
    existing = User.get_or_none(User.email == email)
    if existing is not None:
        return existing, None
    pending = (
        EmailLink.select()
        .where(
            EmailLink.purpose == "signup",
            EmailLink.email == email,
            EmailLink.expires_at > utcnow(),
        )
        .first()
    )
    if pending is None:
        return None, None
    return None, _issue("signup", email, CONFIRM_VALID, data=pending.data_json)


def confirm_sign_up(token: str) -> User | None:
    """Create the account of a confirmed registration and return its owner.

    None when the link is not live or the address was registered since.
    """
    with database.atomic():
        link = _redeem("signup", token)
        if link is None:
            return None
        data = link.data
        user, created = _create_owner(
            data["company_name"],
            data["first_name"],
            data["last_name"],
            link.email,
            data["password_hash"],
        )
    return user if created else None


def change_password(
    user: User, current_password: str, new_password: str, keep: UserSession
) -> None:
    """Set a new password; ends every other session of the user."""
    confirm_password(user, current_password)
    with database.atomic():
        User.update(password_hash=hash_password(new_password)).where(User.id == user.id).execute()
        revoke_sessions(user, keep=keep)


def update_company(
    account: Account, company_name: str, notification_email: str | None, mobile: str | None
) -> None:
    Account.update(
        company_name=company_name,
        notification_email=notification_email or None,
        mobile_number=mobile or None,
    ).where(Account.id == account.id).execute()


def seat_limit(account: Account) -> int | None:
    """The account's user limit from the plan hooks (None: unlimited)."""
    pm = current_app.extensions["kontor"].pm
    plan = pm.hook.kontor_plan(account=account)
    return plan.limit("users") if plan else None


def members(account: Account) -> list[User]:
    """The account's users in the order they were added (read once per page)."""
    return per_request(
        ("members", account.id),
        lambda: list(User.select().where(User.account == account.id).order_by(User.id)),
    )


def invite_user(
    account: Account, first_name: str, last_name: str, email: str, role: str
) -> tuple[User, str | None]:
    """Add a user without a password and return it with an invitation token.

    The seat count is checked and the user inserted in one transaction that
    holds the account row (PostgreSQL) or the write lock (SQLite), so
    concurrent additions never exceed the plan's limit.

    An address that belongs to a user of another account adds nobody: that
    user comes back with the token None, for the caller to answer as for a
    new address and to tell that user instead. The inviting account never
    learns which addresses other accounts use.
    """
    if role not in ("admin", "member"):
        raise AccountError(_("Ungültige Rolle."), "role")
    with database.atomic():
        for_update(Account.select().where(Account.id == account.id)).get()
        limit = seat_limit(account)
        used = User.select().where(User.account == account).count()
        if limit is not None and used >= limit:
            raise AccountError(
                _(
                    "Ihr Tarif erlaubt höchstens %(limit)d Benutzer. Wechseln Sie den Tarif, "
                    "um weitere Benutzer hinzuzufügen.",
                    limit=limit,
                ),
                "email",
            )
        existing = User.get_or_none(User.email == email.lower())
        if existing is not None and existing.account_id == account.id:
            raise AccountError(_("Diese Person gehört bereits zu Ihrem Konto."), "email")
        if existing is not None:
            return existing, None
        user = User.create(
            account=account,
            email=email.lower(),
            first_name=first_name,
            last_name=last_name,
            role=role,
        )
        token = secrets.token_urlsafe(32)
        Invitation.create(
            account=account,
            user=user,
            token_hash=token_hash(token),
            expires_at=utcnow() + dt.timedelta(days=7),
        )
    current_app.extensions["kontor"].pm.hook.kontor_usage_changed(account=account, resource="users")
    return user, token


def accept_invitation(token: str, password: str) -> User | None:
    """Set the invited user's password; the link works once and for 7 days."""
    with database.atomic():
        invitation = Invitation.get_or_none(
            Invitation.token_hash == token_hash(token), Invitation.expires_at > utcnow()
        )
        if invitation is None:
            return None
        user = invitation.user
        user.password_hash = hash_password(password)
        user.save(only=[User.password_hash])
        invitation.delete_instance()
        return user


def removable(user: User, acting: User) -> bool:
    """Whether ``acting`` may remove ``user``: never the owner, never oneself."""
    return user.role != "owner" and user.id != acting.id


def remove_user(account: Account, user_id: int, acting: User) -> None:
    """Remove a user of this account (see :func:`removable`)."""
    user = User.get_or_none(User.id == user_id, User.account == account)
    if user is None:
        raise AccountError(_("Benutzer nicht gefunden."))
    if not removable(user, acting):
        raise AccountError(_("Dieser Benutzer kann nicht entfernt werden."))
    user.delete_instance()
    current_app.extensions["kontor"].pm.hook.kontor_usage_changed(account=account, resource="users")
