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
import time
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, Request, abort, current_app, request, session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_login import LoginManager, current_user, login_user, logout_user
from itsdangerous import BadSignature, URLSafeTimedSerializer

from core.db import Compiled, utcnow
from core.models import Account, User, UserSession

_hasher = PasswordHasher()  # argon2id with the library's current parameters


class _LoginManager(LoginManager):
    def _session_protection_failed(self) -> bool:
        # Server-side sessions do this job (``session_protection = None``); the
        # base class would hash the client's address and user agent on every
        # request before finding that protection is off.
        return False


login_manager = _LoginManager()
login_manager.login_view = "core.login"
login_manager.login_message = None
login_manager.session_protection = None  # server-side sessions do this job

F = TypeVar("F")


class SessionUser:
    """What flask-login sees: a user bound to one server-side session."""

    def __init__(self, user: User, user_session: UserSession, token: str) -> None:
        self.user = user
        self.session = user_session
        self.token = token

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
    """Log ``user`` in with a fresh server-side session."""
    token = secrets.token_urlsafe(32)
    lifetime = dt.timedelta(hours=current_app.config["KONTOR_SESSION_LIFETIME_HOURS"])
    row = UserSession.create(
        token_hash=token_hash(token),
        user=user,
        expires_at=utcnow() + lifetime,
        user_agent=(request.user_agent.string or "")[:200],
    )
    session.clear()
    session.permanent = True
    login_user(SessionUser(user, row, token))
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


_SESSION_LOOKUP = Compiled(
    lambda token_digest, now: (
        UserSession.select(UserSession, User, Account)
        .join(User)
        .join(Account)
        .where(
            UserSession.token_hash == token_digest,
            UserSession.revoked_at.is_null(),
            UserSession.expires_at > now,
        )
        .limit(1)
    )
)


def _load_user(token: str) -> SessionUser | None:
    now = utcnow()
    row = _SESSION_LOOKUP.first(token_hash(token), now)
    if row is None:
        return None
    if now - row.last_seen_at > dt.timedelta(minutes=5):
        UserSession.update(last_seen_at=now).where(UserSession.id == row.id).execute()
    return SessionUser(row.user, row, token)


def managers_only(view: F) -> F:
    """Refuse the view (403) unless the current user is owner or admin."""

    @functools.wraps(view)  # type: ignore[arg-type]
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated or not current_user.is_manager:
            abort(403)
        return view(*args, **kwargs)  # type: ignore[operator]

    return wrapper  # type: ignore[return-value]


_PLAIN = (str, int, float, bool, type(None))


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with each distinct cookie verified once.

    The signing serializer is built once (the keys never change while the
    process runs). A cookie whose signature checked out is remembered with its
    contents and signing time, so a browser sending it again costs a lookup
    instead of an HMAC and a JSON parse; its age is still checked every time.
    Only sessions of plain values are remembered: lists and dicts (flash
    messages) may be changed in place by the request that reads them.
    """

    remembered = 4096

    def __init__(self) -> None:
        self._serializer: URLSafeTimedSerializer | None = None
        self._verified: dict[str, tuple[dict[str, Any], int]] = {}

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if self._serializer is None:
            self._serializer = super().get_signing_serializer(app)
        return self._serializer

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        cookie = request.cookies.get(self.get_cookie_name(app))
        max_age = int(app.permanent_session_lifetime.total_seconds())
        known = self._verified.get(cookie) if cookie else None
        if known is not None and 0 <= int(time.time()) - known[1] <= max_age:
            return self.session_class(known[0])
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        if not cookie:
            return self.session_class()
        try:
            data, signed_at = serializer.loads(cookie, max_age=max_age, return_timestamp=True)
        except BadSignature:
            return self.session_class()
        if all(isinstance(value, _PLAIN) for value in data.values()):
            if len(self._verified) >= self.remembered:
                self._verified.clear()  # cheaper than keeping an order; refilled on use
            self._verified[cookie] = (data, int(signed_at.timestamp()))
        return self.session_class(data)


def init_app(app: Flask) -> None:
    app.session_interface = CookieSessions()
    login_manager.init_app(app)
    app.permanent_session_lifetime = dt.timedelta(hours=app.config["KONTOR_SESSION_LIFETIME_HOURS"])
