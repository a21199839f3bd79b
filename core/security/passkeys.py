"""Passkeys (WebAuthn): registering them and signing in with them, through ``webauthn``.

The relying party is this instance: its id is the host of ``KONTOR_BASE_URL``
and the one origin accepted is that URL's scheme and host, whatever Host
header a request carried. Every passkey is a discoverable credential created
with user verification, so a sign-in with one proves possession and the
user's PIN or biometrics: it counts as two factors.

Challenges are kept server-side as a hash, live ``CHALLENGE_LIFETIME`` and
are deleted when a response is checked against them, so each works once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from types import ModuleType
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import lazy_gettext as _l

from core.data.db import database, utcnow
from core.data.models import Passkey, PasskeyChallenge, User

if TYPE_CHECKING:
    from webauthn.helpers.structs import PublicKeyCredentialDescriptor

CHALLENGE_LIFETIME = dt.timedelta(minutes=5)
#: How long the browser waits for the authenticator (milliseconds).
TIMEOUT_MS = 180_000
#: Passkeys per user; enough for every device a person owns.
MAX_PASSKEYS = 20

EXPIRED = _l("Die Anfrage ist abgelaufen. Bitte versuchen Sie es erneut.")
FAILED = _l("Der Passkey konnte nicht geprüft werden. Bitte versuchen Sie es erneut.")


class PasskeyError(Exception):
    """A ceremony that was refused; the message is for the user."""


def _webauthn() -> ModuleType:
    """The ``webauthn`` package, imported here and nowhere else in Kontor.

    It brings pyOpenSSL, cbor2 and asn1 parsers (about 7 MiB per process), and
    only a passkey ceremony needs it; listing, renaming, counting and removing
    passkeys are plain rows. Importing it on the first ceremony keeps it out
    of every web worker that never sees one (``bench/memory_load.py``).
    """
    import webauthn
    import webauthn.helpers.exceptions
    import webauthn.helpers.structs

    return webauthn


def _bad_response() -> tuple[type[Exception], ...]:
    """What a malformed or forged response makes ``webauthn`` raise: its own
    errors, and ValueError (bad base64url, unknown enum values) or TypeError
    and KeyError from fields of the wrong shape."""
    return (_webauthn().helpers.exceptions.WebAuthnException, ValueError, TypeError, KeyError)


def relying_party() -> tuple[str, str]:
    """(RP ID, origin), both from ``KONTOR_BASE_URL``."""
    base = urlsplit(current_app.config["KONTOR_BASE_URL"])
    return base.hostname or "localhost", f"{base.scheme}://{base.netloc}"


def user_handle(user: User) -> bytes:
    """The WebAuthn user handle: the row id, which names no person."""
    return str(user.id).encode()


def passkeys_of(user: User) -> list[Passkey]:
    """The user's passkeys, oldest first."""
    return list(
        Passkey.select().where(Passkey.user == user).order_by(Passkey.created_at, Passkey.id)
    )


def count(user: User) -> int:
    return Passkey.select().where(Passkey.user == user).count()


def _hash(challenge: bytes) -> str:
    return hashlib.sha256(challenge).hexdigest()


def _new_challenge(purpose: str, user: User | None, name: str = "") -> bytes:
    """A fresh challenge, stored hashed; expired ones are dropped on the way."""
    challenge = secrets.token_bytes(32)
    now = utcnow()
    with database.atomic():
        PasskeyChallenge.delete().where(PasskeyChallenge.expires_at <= now).execute()
        PasskeyChallenge.create(
            purpose=purpose,
            challenge_hash=_hash(challenge),
            user=user,
            name=name,
            expires_at=now + CHALLENGE_LIFETIME,
        )
    return challenge


def _take_challenge(purpose: str, challenge: bytes, user: User | None) -> PasskeyChallenge:
    """Use up a stored challenge: it must exist, be fresh and belong to ``user``."""
    row = PasskeyChallenge.get_or_none(
        PasskeyChallenge.challenge_hash == _hash(challenge), PasskeyChallenge.purpose == purpose
    )
    # Only the request that deletes the row may go on: two racing uses get one success.
    if row is None or PasskeyChallenge.delete_by_id(row.id) != 1:
        raise PasskeyError(EXPIRED)
    owner = user.id if user is not None else None
    if row.expires_at <= utcnow() or row.user_id != owner:
        raise PasskeyError(EXPIRED)
    return row


def registration_options(user: User, name: str) -> tuple[str, bytes]:
    """The options for ``navigator.credentials.create`` as JSON, and their challenge.

    The user's passkeys are excluded, so one authenticator is not registered twice.
    """
    existing = passkeys_of(user)
    if len(existing) >= MAX_PASSKEYS:
        raise PasskeyError(
            _l("Sie können höchstens %(max)d Passkeys hinterlegen.", max=MAX_PASSKEYS)
        )
    rp_id, _origin = relying_party()
    challenge = _new_challenge("register", user, name)
    wa = _webauthn()
    structs = wa.helpers.structs
    options = wa.generate_registration_options(
        rp_id=rp_id,
        rp_name="Kontor",
        user_id=user_handle(user),
        user_name=user.email,
        user_display_name=user.full_name or user.email,
        challenge=challenge,
        timeout=TIMEOUT_MS,
        authenticator_selection=structs.AuthenticatorSelectionCriteria(
            resident_key=structs.ResidentKeyRequirement.REQUIRED,
            user_verification=structs.UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[_descriptor(p) for p in existing],
    )
    return wa.options_to_json(options), challenge


def _descriptor(passkey: Passkey) -> PublicKeyCredentialDescriptor:
    wa = _webauthn()
    structs = wa.helpers.structs
    transports = [structs.AuthenticatorTransport(t) for t in passkey.transports.split(",") if t]
    return structs.PublicKeyCredentialDescriptor(
        id=wa.helpers.base64url_to_bytes(passkey.credential_id), transports=transports or None
    )


def register(user: User, credential: object, challenge: bytes) -> Passkey:
    """Check the browser's answer to :func:`registration_options` and store the passkey."""
    row = _take_challenge("register", challenge, user)
    rp_id, origin = relying_party()
    wa = _webauthn()
    try:
        parsed = wa.helpers.parse_registration_credential_json(credential)  # type: ignore[arg-type]
        verified = wa.verify_registration_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
            require_user_verification=True,
        )
    except _bad_response() as exc:
        raise PasskeyError(FAILED) from exc
    credential_id = wa.helpers.bytes_to_base64url(verified.credential_id)
    if Passkey.get_or_none(Passkey.credential_id == credential_id) is not None:
        raise PasskeyError(_l("Dieser Passkey ist bereits hinterlegt."))
    known = {t.value for t in wa.helpers.structs.AuthenticatorTransport}
    transports = [t.value for t in parsed.response.transports or () if t.value in known]
    return Passkey.create(
        user=user,
        credential_id=credential_id,
        public_key=wa.helpers.bytes_to_base64url(verified.credential_public_key),
        sign_count=verified.sign_count,
        transports=",".join(transports)[:200],
        name=row.name,
    )


def authentication_options() -> tuple[str, bytes]:
    """The options for ``navigator.credentials.get`` as JSON, and their challenge.

    No credentials are listed: the authenticator offers its discoverable
    passkeys for this site, so the page needs no e-mail address first.
    """
    rp_id, _origin = relying_party()
    challenge = _new_challenge("login", None)
    wa = _webauthn()
    options = wa.generate_authentication_options(
        rp_id=rp_id,
        challenge=challenge,
        timeout=TIMEOUT_MS,
        user_verification=wa.helpers.structs.UserVerificationRequirement.REQUIRED,
    )
    return wa.options_to_json(options), challenge


def second_factor_options(user: User) -> tuple[str, bytes]:
    """Options for confirming a password sign-in with one of ``user``'s passkeys.

    Only their credentials are allowed, and user verification is preferred,
    not required: the password already was the first factor.
    """
    rp_id, _origin = relying_party()
    challenge = _new_challenge("confirm", user)
    wa = _webauthn()
    options = wa.generate_authentication_options(
        rp_id=rp_id,
        challenge=challenge,
        timeout=TIMEOUT_MS,
        allow_credentials=[_descriptor(p) for p in passkeys_of(user)],
        user_verification=wa.helpers.structs.UserVerificationRequirement.PREFERRED,
    )
    return wa.options_to_json(options), challenge


def authenticate(credential: object, challenge: bytes) -> User:
    """The user a browser's answer to :func:`authentication_options` signs in."""
    _take_challenge("login", challenge, None)
    return _verify(credential, challenge, None)


def confirm(user: User, credential: object, challenge: bytes) -> None:
    """Check a browser's answer to :func:`second_factor_options`: it must be
    signed by a passkey of ``user``; another user's passkey is refused."""
    _take_challenge("confirm", challenge, user)
    _verify(credential, challenge, user)


def _verify(credential: object, challenge: bytes, user: User | None) -> User:
    """Check an assertion against its stored passkey (of ``user`` when given)
    and record its use; return the passkey's user."""
    rp_id, origin = relying_party()
    wa = _webauthn()
    try:
        parsed = wa.helpers.parse_authentication_credential_json(credential)  # type: ignore[arg-type]
    except _bad_response() as exc:
        raise PasskeyError(FAILED) from exc
    passkey = (
        Passkey.select(Passkey, User)
        .join(User)
        .where(Passkey.credential_id == wa.helpers.bytes_to_base64url(parsed.raw_id))
        .first()
    )
    if passkey is None:
        raise PasskeyError(_l("Dieser Passkey ist bei Kontor nicht (mehr) hinterlegt."))
    if user is not None and passkey.user_id != user.id:
        raise PasskeyError(_l("Dieser Passkey gehört nicht zu Ihrem Benutzer."))
    handle = parsed.response.user_handle
    if handle is not None and handle != user_handle(passkey.user):
        raise PasskeyError(FAILED)
    try:
        verified = wa.verify_authentication_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
            credential_public_key=wa.helpers.base64url_to_bytes(passkey.public_key),
            credential_current_sign_count=passkey.sign_count,
            require_user_verification=user is None,
        )
    except _bad_response() as exc:
        raise PasskeyError(FAILED) from exc
    Passkey.update(sign_count=verified.new_sign_count, last_used_at=utcnow()).where(
        Passkey.id == passkey.id
    ).execute()
    return passkey.user


def rename(user: User, passkey_id: int, name: str) -> Passkey | None:
    """Rename one of ``user``'s passkeys; None when it is not theirs."""
    passkey = Passkey.get_or_none(Passkey.id == passkey_id, Passkey.user == user)
    if passkey is not None:
        passkey.name = name
        passkey.save(only=[Passkey.name])
    return passkey


def remove(user: User, passkey_id: int) -> Passkey | None:
    """Delete one of ``user``'s passkeys and return it; None when it is not theirs.

    The password stays, so removing the last passkey locks nobody out; while
    the account requires two-factor login ``core.security.twofactor.check_passkey_removal``
    guards the last one.
    """
    passkey = Passkey.get_or_none(Passkey.id == passkey_id, Passkey.user == user)
    if passkey is not None:
        passkey.delete_instance()
    return passkey
