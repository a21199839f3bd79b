"""Logins: argon2id passwords and server-side sessions that can be revoked.

The Flask session cookie carries a random session token; the database keeps
only its SHA-256. Logging out, changing the password or e-mail, or "Alle
anderen Sitzungen abmelden" marks rows revoked, and a revoked or expired
token is refused on the next request, wherever the cookie was copied to.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets
from typing import TYPE_CHECKING, Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, current_app, session
from flask_login import LoginManager, current_user, login_user, logout_user

from core.data.db import utcnow
from core.data.models import Account, User, UserSession
from core.security.sign_ins import record_sign_in, request_agent, request_ip

if TYPE_CHECKING:
    from core.security.twofactor import Status

_hasher = PasswordHasher()  # argon2id with the library's current parameters


# How often a session's last use (time and masked IP) is written: a page load
# reads the session row but writes it at most this often.
SEEN_EVERY = dt.timedelta(minutes=5)

login_manager = LoginManager()
login_manager.login_view = "core.login"
login_manager.login_message = None
login_manager.session_protection = None  # server-side sessions do this job


class SessionUser:
    """What flask-login sees: a user bound to one server-side session."""

    def __init__(
        self,
        user: User,
        user_session: UserSession,
        token: str,
        second_factors: Status | None = None,
    ) -> None:
        self.user = user
        self.session = user_session
        self.token = token
        #: The user's second factors as loaded with the session (None when
        #: the session was just started); pages show them without a query.
        self.second_factors = second_factors

    is_authenticated = True
    is_active = True
    is_anonymous = False
    is_support = False

    def get_id(self) -> str:
        return f"user:{self.token}"

    def sign_out(self) -> None:
        """Revoke this login's server-side session."""
        UserSession.update(revoked_at=utcnow()).where(
            UserSession.id == self.session.id, UserSession.revoked_at.is_null()
        ).execute()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.user, name)


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against when there is no user, so both cases take as long.

    Made on first use: hashing at import would cost every worker start 0.2 s.
    """
    return _hasher.hash("kontor-timing-equaliser")


def hash_password(password: str) -> str:
    """Hash with argon2id."""
    return _hasher.hash(password)


def verify_password(user: User | None, password: str) -> bool:
    """Check a password; spends the same time when there is no user."""
    stored = user.password_hash if user is not None and user.password_hash else _dummy_hash()
    try:
        ok = _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False
    if user is None or not user.password_hash:
        return False
    if ok and _hasher.check_needs_rehash(stored):
        user.password_hash = hash_password(password)
        user.save(only=[User.password_hash])
    return ok


def token_hash(token: str) -> str:
    """The stored form of a session or invitation token."""
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(user: User) -> UserSession:
    """A fresh server-side session for ``user``, and the cookie that names it."""
    token = secrets.token_urlsafe(32)
    lifetime = dt.timedelta(hours=current_app.config["KONTOR_SESSION_LIFETIME_HOURS"])
    row = UserSession.create(
        token_hash=token_hash(token),
        user=user,
        expires_at=utcnow() + lifetime,
        user_agent=request_agent(),
        ip=request_ip(),
    )
    session.clear()
    session.permanent = True
    login_user(SessionUser(user, row, token))
    return row


def complete_login(user: User) -> UserSession:
    """Log ``user`` in once every required step is done. Every way in ends here
    (password alone, password and second factor, a passkey, a confirmed
    registration, an accepted invitation): the one place a sign-in is recorded
    in the history and a new device is told by mail."""
    row = start_session(user)
    record_sign_in(user, row)
    return row


def end_session() -> None:
    """Log out: the actor (a user, or a plugin's, such as a support session)
    revokes its server-side session(s), then the cookie is cleared."""
    if current_user.is_authenticated:
        current_user.sign_out()
    logout_user()
    session.clear()


def revoke_sessions(user: User, keep: UserSession | None = None) -> int:
    """Revoke all of ``user``'s sessions except ``keep``; return how many."""
    query = UserSession.update(revoked_at=utcnow()).where(
        UserSession.user == user, UserSession.revoked_at.is_null()
    )
    if keep is not None:
        query = query.where(UserSession.id != keep.id)
    return query.execute()


@login_manager.user_loader
def _load(session_id: str) -> Any:
    kind, _, token = session_id.partition(":")
    if not token:
        return None
    if kind != "user":
        pm = current_app.extensions["kontor"].pm
        return pm.hook.kontor_load_actor(kind=kind, token=token)
    return _load_user(token)


def _load_user(token: str) -> SessionUser | None:
    """The live session for ``token`` with its user, account and second
    factors, in one query.

    Runs on every request, so of the session row it reads only what requests
    use (its id and when it was last seen); the row is never saved back.
    """
    # Imported here: two-factor login builds on this module's password check.
    from core.security.twofactor import loaded_status, status_columns

    now = utcnow()
    row = (
        UserSession.select(
            UserSession.id, UserSession.last_seen_at, User, Account, *status_columns()
        )
        .join(User)
        .join(Account)
        .where(
            UserSession.token_hash == token_hash(token),
            UserSession.revoked_at.is_null(),
            UserSession.expires_at > now,
        )
        .first()
    )
    if row is None:
        return None
    if now - row.last_seen_at > SEEN_EVERY:
        UserSession.update(last_seen_at=now, ip=request_ip()).where(
            UserSession.id == row.id
        ).execute()
    return SessionUser(row.user, row, token, loaded_status(row))


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    app.permanent_session_lifetime = dt.timedelta(hours=app.config["KONTOR_SESSION_LIFETIME_HOURS"])
