"""Two-factor login ("Zwei-Faktor-Anmeldung"): TOTP and one-time recovery codes.

The TOTP secret is made on the server and stored encrypted, bound to its
user (``core.security.crypto`` context ``core:two_factor:user:<id>``); it counts only
once the user has confirmed it with a current code and their password. A
code's time step is remembered, so a code works once. Recovery codes are
random, shown once and stored as SHA-256; each works once. Nothing here
reads request state: the views in ``core.security.twofactor_views`` call it.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import peewee
import pyotp
from flask_babel import gettext as _
from markupsafe import Markup

from core.data.accounts import AccountError
from core.data.db import BaseModel, database, utcnow
from core.data.models import Account, Passkey, User
from core.security import passkeys
from core.security.auth import token_hash, verify_password
from core.security.crypto import decrypt, encrypt

CONTEXT = "core:two_factor:user:{}"
ISSUER = "Kontor"
RECOVERY_CODES = 10
# 16 characters from 31 (no 0/o, 1/l/i): 79 bits, so a stored SHA-256 cannot
# be reversed by trying every code.
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_CODE_GROUPS = 4


class TwoFactor(BaseModel):
    """A user's TOTP secret; ``enabled_at`` is empty while set-up is unconfirmed."""

    user = peewee.ForeignKeyField(User, primary_key=True, on_delete="CASCADE")
    secret = peewee.TextField()  # encrypted, see CONTEXT
    last_step = peewee.BigIntegerField(default=0)  # the newest time step a code was used for
    enabled_at = peewee.DateTimeField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "core_two_factor"


class RecoveryCode(BaseModel):
    """A one-time recovery code, stored as its SHA-256."""

    user = peewee.ForeignKeyField(User, on_delete="CASCADE")
    code_hash = peewee.CharField(max_length=64)
    used_at = peewee.DateTimeField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "core_recovery_code"
        indexes = ((("user", "code_hash"), True),)


MODELS = (TwoFactor, RecoveryCode)


# --- TOTP ----------------------------------------------------------------------


def matching_step(secret: str, code: str, after: int) -> int | None:
    """The time step (now, or one either side for clock drift) whose code is
    ``code`` and that is newer than ``after``; None if there is none.

    Callers store the step they accept, so the same code never works twice.
    """
    totp = pyotp.TOTP(secret)
    now = totp.timecode(dt.datetime.now(dt.UTC))
    for step in (now - 1, now, now + 1):
        if step > after and secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _secret(row: TwoFactor) -> str:
    return decrypt(row.secret, CONTEXT.format(row.user_id))


def _take_step(row: TwoFactor, code: str) -> bool:
    """Accept ``code`` for ``row`` once: the step is stored only if no
    concurrent request stored it (or a later one) first."""
    step = matching_step(_secret(row), code, row.last_step)
    if step is None:
        return False
    taken = (
        TwoFactor.update(last_step=step)
        .where(TwoFactor.user == row.user_id, TwoFactor.last_step < step)
        .execute()
    )
    return bool(taken)


def enabled(user: User) -> TwoFactor | None:
    """The user's confirmed two-factor login, or None."""
    return TwoFactor.get_or_none(TwoFactor.user == user.id, TwoFactor.enabled_at.is_null(False))


def pending_secret(user: User) -> str:
    """The secret being set up (made on first call, kept until confirmed, so a
    reloaded page shows the QR code the app may already have scanned)."""
    row = TwoFactor.get_or_none(TwoFactor.user == user.id)
    if row is not None and row.enabled_at is None:
        return _secret(row)
    if row is not None:
        raise AccountError(_("Die Zwei-Faktor-Anmeldung ist bereits eingeschaltet."), "code")
    secret = pyotp.random_base32()
    TwoFactor.insert(
        user=user.id, secret=encrypt(secret, CONTEXT.format(user.id))
    ).on_conflict_ignore().execute()
    return _secret(TwoFactor.get(TwoFactor.user == user.id))


def provisioning_uri(user: User, secret: str) -> str:
    """The ``otpauth://`` address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_svg(uri: str, title: str) -> Markup:
    """The QR code of ``uri`` as inline SVG (made here: no image service sees the secret).

    segno (about 1 MiB) is imported here: only setting up an authenticator app
    draws a QR code, so web workers that never do keep it out of memory.
    """
    import segno

    svg = segno.make(uri, error="m").svg_inline(
        scale=4, border=4, dark="#000", light="#fff", title=title, svgclass="qr", omitsize=True
    )
    return Markup(svg)  # noqa: S704 - segno escapes the title; the rest is path data


def grouped(secret: str) -> str:
    """The secret in groups of four, easier to type into an app."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


# --- recovery codes --------------------------------------------------------------


def _normalise(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def _new_codes(user: User) -> list[str]:
    """Replace the user's recovery codes with ten new ones; return them for showing once."""
    codes = [
        "-".join("".join(secrets.choice(_ALPHABET) for _ in range(4)) for _ in range(_CODE_GROUPS))
        for _ in range(RECOVERY_CODES)
    ]
    RecoveryCode.delete().where(RecoveryCode.user == user.id).execute()
    RecoveryCode.insert_many(
        [{"user": user.id, "code_hash": token_hash(_normalise(c))} for c in codes]
    ).execute()
    return codes


def _use_recovery_code(user: User, code: str) -> bool:
    """Spend one unused recovery code; a used or unknown one is refused."""
    spent = (
        RecoveryCode.update(used_at=utcnow())
        .where(
            RecoveryCode.user == user.id,
            RecoveryCode.code_hash == token_hash(_normalise(code)),
            RecoveryCode.used_at.is_null(),
        )
        .execute()
    )
    return bool(spent)


def remaining_codes(user: User) -> int:
    return (
        RecoveryCode.select()
        .where(RecoveryCode.user == user.id, RecoveryCode.used_at.is_null())
        .count()
    )


# --- turning it on and off ------------------------------------------------------


def _check_password(user: User, password: str) -> None:
    if not password:
        raise AccountError(_("Dieses Feld ist erforderlich."), "current_password")
    if not verify_password(user, password):
        raise AccountError(_("Das aktuelle Passwort ist falsch."), "current_password")


def _check_second_factor(user: User, code: str) -> None:
    """Spend a current code from the app or an unused recovery code of
    ``user``; call inside the transaction of the change it allows."""
    if not code:
        raise AccountError(_("Dieses Feld ist erforderlich."), "code")
    if check_code(user, code) is None:
        raise AccountError(_("Der Code stimmt nicht oder wurde schon verwendet."), "code")


def enable(user: User, code: str, password: str) -> list[str]:
    """Confirm the set-up with a current code and the password; return the
    recovery codes to show once."""
    _check_password(user, password)
    with database.atomic():
        row = TwoFactor.get_or_none(TwoFactor.user == user.id, TwoFactor.enabled_at.is_null())
        if row is None:
            raise AccountError(
                _("Bitte laden Sie die Seite neu und scannen Sie den QR-Code erneut."), "code"
            )
        if not _take_step(row, "".join(code.split())):
            raise AccountError(
                _("Der Code stimmt nicht. Geben Sie den aktuellen Code aus Ihrer App ein."),
                "code",
            )
        TwoFactor.update(enabled_at=utcnow()).where(TwoFactor.user == user.id).execute()
        return _new_codes(user)


def check_code(user: User, code: str) -> str | None:
    """The second factor for ``user``: ``"totp"`` or ``"recovery_code"`` for the
    kind of ``code`` that was accepted (and is now used up), None if refused."""
    row = enabled(user)
    if row is None:
        return None
    plain = "".join(code.split())
    if plain.isdigit() and len(plain) == 6:
        return "totp" if _take_step(row, plain) else None
    return "recovery_code" if _use_recovery_code(user, plain) else None


def regenerate_codes(user: User, password: str, code: str) -> list[str]:
    """New recovery codes (the old ones stop working); requires the password
    and a current code or a recovery code, as turning off does: a stolen
    session with a known password must not get codes that stand in for the app."""
    _check_password(user, password)
    if enabled(user) is None:
        raise AccountError(_("Die Zwei-Faktor-Anmeldung ist nicht eingeschaltet."), "code")
    with database.atomic():
        _check_second_factor(user, code)
        return _new_codes(user)


def disable(user: User, password: str, code: str) -> None:
    """Turn two-factor login off: requires the password and a current code or a
    recovery code; refused while the account requires it and no passkey stands in."""
    if user.account.two_factor_required and not passkeys.count(user):
        raise AccountError(
            _("Ihr Konto verlangt die Zwei-Faktor-Anmeldung; sie bleibt eingeschaltet."),
            "code",
        )
    _check_password(user, password)
    with database.atomic():
        _check_second_factor(user, code)
        RecoveryCode.delete().where(RecoveryCode.user == user.id).execute()
        TwoFactor.delete().where(TwoFactor.user == user.id).execute()


# --- the account's rule ----------------------------------------------------------------
# A passkey is a second factor as good as the app (possession plus the device's
# PIN or biometrics), so a user with one satisfies the rule as well.


@dataclass(frozen=True)
class Status:
    """Which second factors a user has."""

    totp: bool
    passkeys: int

    @property
    def on(self) -> bool:
        return self.totp or self.passkeys > 0

    @property
    def method(self) -> str:
        """The methods in words, for tables and cards ("" while off)."""
        if self.totp and self.passkeys:
            return _("Authenticator-App und Passkey")
        if self.totp:
            return _("Authenticator-App")
        return _("Passkey") if self.passkeys else ""


def status(user: User) -> Status:
    return Status(totp=enabled(user) is not None, passkeys=passkeys.count(user))


def status_columns() -> tuple[peewee.Node, peewee.Node]:
    """Columns ``totp`` and ``passkey_count`` for a query that selects
    ``User``: the user's second factors come with the row that loads them
    (the session loader, the policy's table) instead of queries of their own."""
    on = TwoFactor.select(TwoFactor.user).where(TwoFactor.enabled_at.is_null(False))
    keys = Passkey.select(peewee.fn.COUNT(Passkey.id)).where(Passkey.user == User.id)
    return User.id.in_(on).alias("totp"), keys.alias("passkey_count")


def loaded_status(row: Any) -> Status:
    """The ``Status`` from a row of a query with ``status_columns()``."""
    return Status(totp=bool(row.totp), passkeys=int(row.passkey_count or 0))


def setup_required(user: User) -> bool:
    """True while ``user``'s account requires two-factor login and they have none."""
    return bool(user.account.two_factor_required) and not status(user).on


def check_passkey_removal(user: User) -> None:
    """Refuse to remove ``user``'s last passkey while it is the second factor
    their account requires (they would be led to set-up at once)."""
    if user.account.two_factor_required and enabled(user) is None and passkeys.count(user) <= 1:
        raise AccountError(
            _(
                "Ihr Konto verlangt die Zwei-Faktor-Anmeldung. Fügen Sie zuerst einen "
                "weiteren Passkey hinzu oder schalten Sie die Authenticator-App ein, bevor "
                "Sie Ihren letzten Passkey entfernen."
            )
        )


def set_required(
    account: Account, acting: User, required: bool, password: str = "", code: str = ""
) -> None:
    """Require (or stop requiring) two-factor login for every user of ``account``.

    Whoever turns it on must use it already, so they cannot lock themselves
    out of the setting they just made. Turning it off weakens every login of
    the account, so it asks for the password and a current code or a
    recovery code, as turning off one's own does. A user whose second factor
    is a passkey only has no code to give: the password suffices for them.
    """
    if required and not status(acting).on:
        raise AccountError(
            _("Schalten Sie zuerst Ihre eigene Zwei-Faktor-Anmeldung ein."), "required"
        )
    with database.atomic():
        if not required and account.two_factor_required:
            _check_password(acting, password)
            if enabled(acting) is not None:
                _check_second_factor(acting, code)
        Account.update(two_factor_required=required).where(Account.id == account.id).execute()


def members_with_status(account: Account) -> list[tuple[User, Status]]:
    """Every user of ``account`` with their second factors (one query)."""
    rows = User.select(User, *status_columns()).where(User.account == account.id).order_by(User.id)
    return [(user, loaded_status(user)) for user in rows]


def security_report(account: Account) -> dict[str, Any]:
    """The service API's view of the account's login security."""
    return {
        "account_id": account.id,
        "two_factor_required": bool(account.two_factor_required),
        "users": [
            {
                "id": user.id,
                "email": user.email,
                "name": user.full_name,
                "role": user.role,
                "two_factor": factors.on,
                "totp": factors.totp,
                "passkeys": factors.passkeys,
            }
            for user, factors in members_with_status(account)
        ],
    }


def rotate_secrets(rotate: Callable[[str, str], str]) -> int:
    """Re-encrypt every stored secret with the primary key (``kontor keys rotate``)."""
    changed = 0
    for row in TwoFactor.select():
        new = rotate(row.secret, CONTEXT.format(row.user_id))
        if new != row.secret:
            TwoFactor.update(secret=new).where(TwoFactor.user == row.user_id).execute()
            changed += 1
    return changed
