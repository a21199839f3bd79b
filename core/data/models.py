"""Core tables: accounts (tenants), their users, login sessions and events."""

from __future__ import annotations

import json
from typing import Any

import peewee

from core.data.db import BaseModel, utcnow


class Account(BaseModel):
    """One business (tenant). Everything else hangs off an account."""

    company_name = peewee.CharField(max_length=200)
    notification_email = peewee.CharField(max_length=254, null=True)
    mobile_number = peewee.CharField(max_length=20, null=True)
    created_at = peewee.DateTimeField(default=utcnow)
    # Closing: requested by the owner, personal data erased at ``erase_at``
    # (the undo is possible until then); the row stays as an anonymised
    # tombstone for the records kept by law until it is purged.
    closing_requested_at = peewee.DateTimeField(null=True)
    erase_at = peewee.DateTimeField(null=True)
    erased_at = peewee.DateTimeField(null=True)
    # Every user must sign in with a second factor (``core.security.twofactor``).
    two_factor_required = peewee.BooleanField(default=False)

    class Meta:
        table_name = "core_account"

    @property
    def is_closing(self) -> bool:
        return self.erase_at is not None and self.erased_at is None


class User(BaseModel):
    """A person who logs in to exactly one account."""

    account = peewee.ForeignKeyField(Account, backref="users", on_delete="CASCADE")
    email = peewee.CharField(max_length=254, unique=True)
    password_hash = peewee.CharField(max_length=255, null=True)
    first_name = peewee.CharField(max_length=100)
    last_name = peewee.CharField(max_length=100)
    role = peewee.CharField(max_length=10, default="member")
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "core_user"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def is_manager(self) -> bool:
        """Owners and admins change account-wide settings."""
        return self.role in ("owner", "admin")


class UserSession(BaseModel):
    """A server-side login session; the cookie only carries its id's hash input.

    Revoking the row ends the session everywhere, so a copied cookie is
    worthless afterwards.
    """

    token_hash = peewee.CharField(max_length=64, unique=True)
    user = peewee.ForeignKeyField(User, backref="sessions", on_delete="CASCADE")
    created_at = peewee.DateTimeField(default=utcnow)
    last_seen_at = peewee.DateTimeField(default=utcnow)
    expires_at = peewee.DateTimeField()
    revoked_at = peewee.DateTimeField(null=True)
    user_agent = peewee.CharField(max_length=200, default="")
    ip = peewee.CharField(max_length=45, default="")  # masked, see core.security.sign_ins.mask_ip

    class Meta:
        table_name = "core_user_session"


class Invitation(BaseModel):
    """A pending invitation of a new user; the link holds the token."""

    account = peewee.ForeignKeyField(Account, on_delete="CASCADE")
    user = peewee.ForeignKeyField(User, on_delete="CASCADE", unique=True)
    token_hash = peewee.CharField(max_length=64, unique=True)
    expires_at = peewee.DateTimeField()

    class Meta:
        table_name = "core_invitation"


class EmailLink(BaseModel):
    """A one-time link sent by mail: a password reset, a new login address or a
    new account waiting for its address to be confirmed.

    Only the token's SHA-256 is stored; the link is deleted when used, so it
    works once. ``email`` is where the link went; ``data_json`` holds what a
    confirmed sign-up creates (names and the password's argon2id hash).
    """

    purpose = peewee.CharField(max_length=10)  # "reset", "email" or "signup"
    token_hash = peewee.CharField(max_length=64, unique=True)
    user = peewee.ForeignKeyField(User, null=True, on_delete="CASCADE")
    email = peewee.CharField(max_length=254, index=True)
    data_json = peewee.TextField(default="{}")
    created_at = peewee.DateTimeField(default=utcnow)
    expires_at = peewee.DateTimeField()

    class Meta:
        table_name = "core_email_link"

    @property
    def data(self) -> dict[str, Any]:
        return json.loads(self.data_json)


class Passkey(BaseModel):
    """A WebAuthn credential (passkey) a user signs in with instead of a password.

    Only the public key is stored; ``credential_id`` and ``public_key`` are
    base64url text so both databases store them alike.
    """

    user = peewee.ForeignKeyField(User, backref="passkeys", on_delete="CASCADE")
    credential_id = peewee.CharField(max_length=1400, unique=True)
    public_key = peewee.TextField()
    sign_count = peewee.BigIntegerField(default=0)
    transports = peewee.CharField(max_length=200, default="")  # comma-separated
    name = peewee.CharField(max_length=100)
    created_at = peewee.DateTimeField(default=utcnow)
    last_used_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "core_passkey"


class PasskeyChallenge(BaseModel):
    """A challenge handed to the browser for one WebAuthn ceremony.

    Deleted when a response is checked against it, so it works once;
    ``user`` is set for a registration (whose ``name`` it keeps), empty for a
    passwordless sign-in. Only the challenge's SHA-256 is stored.
    """

    purpose = peewee.CharField(max_length=10)  # "register", "login" or "confirm" (a second factor)
    challenge_hash = peewee.CharField(max_length=64, unique=True)
    user = peewee.ForeignKeyField(User, null=True, on_delete="CASCADE")
    name = peewee.CharField(max_length=100, default="")
    expires_at = peewee.DateTimeField(index=True)

    class Meta:
        table_name = "core_passkey_challenge"


class SignIn(BaseModel):
    """One sign-in or failed attempt of a user, for "Anmeldeverlauf" and for
    telling a new device from a known one. Only the masked IP address is kept,
    and only the last entries (see ``core.security.sign_ins``)."""

    user = peewee.ForeignKeyField(User, on_delete="CASCADE")
    created_at = peewee.DateTimeField(default=utcnow)
    success = peewee.BooleanField()
    reason = peewee.CharField(max_length=20, default="")  # a key of core.security.sign_ins.REASONS
    user_agent = peewee.CharField(max_length=200, default="")
    ip = peewee.CharField(max_length=45, default="")

    class Meta:
        table_name = "core_sign_in"
        indexes = ((("user", "created_at"), False),)


class Event(BaseModel):
    """Something that happened in an account and may notify its users."""

    account = peewee.ForeignKeyField(Account, backref="events", on_delete="CASCADE")
    type = peewee.CharField(max_length=100)
    data_json = peewee.TextField(default="{}")
    idempotency_key = peewee.CharField(max_length=200, null=True)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "core_event"
        indexes = ((("account", "idempotency_key"), True),)

    @property
    def data(self) -> dict[str, Any]:
        return json.loads(self.data_json)


CORE_MODELS = (Account, User, UserSession, Invitation, Event)
