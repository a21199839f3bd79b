"""Passkeys and the challenges of their ceremonies (frozen: never edit, add a
step instead)."""

import peewee

from core.data.migrations import Frozen, create_tables, stub

User = stub("core_user")


class Passkey(Frozen):
    user = peewee.ForeignKeyField(User, on_delete="CASCADE")
    credential_id = peewee.CharField(max_length=1400, unique=True)
    public_key = peewee.TextField()
    sign_count = peewee.BigIntegerField()
    transports = peewee.CharField(max_length=200)
    name = peewee.CharField(max_length=100)
    created_at = peewee.DateTimeField()
    last_used_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "core_passkey"


class PasskeyChallenge(Frozen):
    purpose = peewee.CharField(max_length=10)
    challenge_hash = peewee.CharField(max_length=64, unique=True)
    user = peewee.ForeignKeyField(User, null=True, on_delete="CASCADE")
    name = peewee.CharField(max_length=100)
    expires_at = peewee.DateTimeField(index=True)

    class Meta:
        table_name = "core_passkey_challenge"


MIGRATION = create_tables("0008_passkeys", [Passkey, PasskeyChallenge])
