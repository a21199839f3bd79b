"""Sign-in history, the user's sessions as a person sees them, and security
notices by mail.

Only masked IP addresses are stored (``203.0.113.x``): enough to recognise a
place, not enough to track a person. A user's history keeps the last
``HISTORY_KEPT`` entries; the periodic clean-up drops entries older than
``HISTORY_DAYS`` days, except each user's latest successful sign-in, so that a
user who returns after a long time is still told about a new device.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import logging
from dataclasses import dataclass
from typing import Any

from flask import request
from flask_babel import lazy_gettext as _l
from peewee import fn
from ua_parser import parse

from core.contract.values import PermanentFailure
from core.data.db import database, utcnow
from core.data.models import EmailLink, SignIn, User, UserSession
from core.delivery.outbox import queue_template_mail
from core.web.blueprints import external_url

log = logging.getLogger("kontor")
HISTORY_KEPT = 50
HISTORY_DAYS = 90
SESSIONS_KEPT_DAYS = 30  # ended (revoked or expired) sessions are deleted after this
# Why an attempt failed, in words; the key is what is stored.
REASONS = {"password": _l("falsches Passwort"), "code": _l("falscher Code")}


@dataclass(frozen=True)
class Device:
    """What a user agent says about the device: browser and operating system
    families (no versions), and the device model where there is one."""

    browser: str
    os: str
    model: str

    @property
    def known(self) -> bool:
        return bool(self.browser or self.os)

    def __str__(self) -> str:
        if not self.known:
            return str(_l("Unbekanntes Gerät"))
        if not (self.browser and self.os):
            return self.browser or self.os
        label = str(_l("%(browser)s auf %(os)s", browser=self.browser, os=self.os))
        return f"{label} ({self.model})" if self.model else label


@functools.lru_cache(maxsize=512)
def device_of(user_agent: str) -> Device:
    """Browser, system and model from a user agent (parsed by ``ua-parser``)."""
    result = parse(user_agent or "")
    browser = result.user_agent.family if result.user_agent else ""
    system = result.os.family if result.os else ""
    model = result.device.family if result.device else ""
    if model in ("Other", "Spider") or model == system:
        model = ""
    return Device("" if browser == "Other" else browser, "" if system == "Other" else system, model)


def mask_ip(address: str | None) -> str:
    """The address without its last part: ``203.0.113.x`` for IPv4, the
    first four groups (the network) for IPv6; "" when it is no address."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return ""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if isinstance(ip, ipaddress.IPv4Address):
        return ".".join([*str(ip).split(".")[:3], "x"])
    groups = [group.lstrip("0") or "0" for group in ip.exploded.split(":")[:4]]
    return ":".join(groups + ["x"] * 4)


def request_ip() -> str:
    """The masked address of the current request's client."""
    return mask_ip(request.remote_addr)


def request_agent() -> str:
    return (request.user_agent.string or "")[:200]


# --- sign-in history ------------------------------------------------------------


def _record(user: User, success: bool, reason: str = "") -> SignIn:
    """Store an entry for the current request and keep only the user's last ones."""
    with database.atomic():
        entry = SignIn.create(
            user=user.id,
            success=success,
            reason=reason,
            user_agent=request_agent(),
            ip=request_ip(),
        )
        kept = (
            SignIn.select(SignIn.id)
            .where(SignIn.user == user.id)
            .order_by(SignIn.created_at.desc(), SignIn.id.desc())
            .limit(HISTORY_KEPT)
        )
        SignIn.delete().where(SignIn.user == user.id, SignIn.id.not_in(kept)).execute()
    return entry


def record_failure(user: User, reason: str) -> None:
    """A failed attempt for a known address (``reason`` is a key of ``REASONS``)."""
    _record(user, False, reason)


def _known_devices(user: User, entry: SignIn, session: UserSession) -> set[Device]:
    """The devices of the user's earlier kept sign-ins and sessions.

    Sessions count too, so that failed attempts, which push old entries out of
    the history, cannot make a device look like the first one.
    """
    signed_in = SignIn.select(SignIn.user_agent).where(
        SignIn.user == user.id, SignIn.success, SignIn.id != entry.id
    )
    sessions = UserSession.select(UserSession.user_agent).where(
        UserSession.user == user.id, UserSession.id != session.id
    )
    return {device_of(row.user_agent) for row in (*signed_in, *sessions)}


def record_sign_in(user: User, session: UserSession) -> None:
    """Store a successful sign-in that started ``session``; mail a notice when
    it came from a device (browser and system) that none of the user's kept
    sign-ins and sessions came from.

    The user's first sign-in (nothing earlier kept) sends nothing.
    """
    entry = _record(user, True)
    known = _known_devices(user, entry, session)
    device = device_of(entry.user_agent)
    if known and device not in known:
        try:
            security_notice(
                user,
                user.email,
                str(_l("Anmeldung von einem neuen Gerät")),
                "new_device",
                ip=entry.ip,
                agent=str(device),
                sessions_link=external_url("core.sessions"),
            )
        except PermanentFailure:  # an address no mail can be built for must not block the login
            log.warning("new-device notice for user %s could not be built", user.id)


def history(user: User, page: int, per_page: int) -> tuple[list[SignIn], int, int]:
    """One page of the user's history, newest first, with its number (pulled
    into range) and the number of pages."""
    query = SignIn.select().where(SignIn.user == user.id)
    pages = max(1, -(-query.count() // per_page))
    page = min(max(page, 1), pages)
    rows = query.order_by(SignIn.created_at.desc(), SignIn.id.desc()).paginate(page, per_page)
    return list(rows), page, pages


# --- sessions -----------------------------------------------------------------------


def live_sessions(user: User) -> list[UserSession]:
    """The user's sessions that still work, most recently used first."""
    return list(
        UserSession.select()
        .where(
            UserSession.user == user.id,
            UserSession.revoked_at.is_null(),
            UserSession.expires_at > utcnow(),
        )
        .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
    )


def end_user_session(user: User, session_id: int) -> bool:
    """End one of ``user``'s live sessions; False when it is not theirs or already over."""
    return bool(
        UserSession.update(revoked_at=utcnow())
        .where(
            UserSession.id == session_id,
            UserSession.user == user.id,
            UserSession.revoked_at.is_null(),
            UserSession.expires_at > utcnow(),
        )
        .execute()
    )


# --- notices --------------------------------------------------------------------------


def security_notice(user: User, to: str, subject: str, template: str, **context: Any) -> None:
    """A security notice: what happened, when, from where and what to do.

    Sent whatever the notification settings say: it is about the login itself.
    ``ip`` and ``agent`` default to the current request's.
    """
    queue_template_mail(
        user.account,
        to,
        subject,
        f"core/mail/{template}.txt",
        **{
            "user": user,
            "when": utcnow(),
            "ip": request.remote_addr or "",
            "agent": request_agent(),
            "forgot_link": external_url("core.forgot_password"),
            **context,
        },
    )


# --- clean-up -------------------------------------------------------------------------


def clean_up() -> None:
    """Delete what no longer serves: used-up links, sessions ended more than
    ``SESSIONS_KEPT_DAYS`` ago and history older than ``HISTORY_DAYS`` (each
    user's latest successful sign-in stays, see the module docstring)."""
    now = utcnow()
    session_cutoff = now - dt.timedelta(days=SESSIONS_KEPT_DAYS)
    latest = SignIn.select(fn.MAX(SignIn.id)).where(SignIn.success).group_by(SignIn.user)
    with database.atomic():
        EmailLink.delete().where(EmailLink.expires_at <= now).execute()
        UserSession.delete().where(
            (UserSession.expires_at <= session_cutoff) | (UserSession.revoked_at <= session_cutoff)
        ).execute()
        SignIn.delete().where(
            SignIn.created_at < now - dt.timedelta(days=HISTORY_DAYS), SignIn.id.not_in(latest)
        ).execute()
