"""Two-factor login: TOTP secrets, recovery codes and the account's rule
(frozen: never edit, add a step instead)."""

import peewee

from core.data.migrations import Frozen, add_fields, combined, create_tables, stub

User = stub("core_user")


class TwoFactor(Frozen):
    user = peewee.ForeignKeyField(User, primary_key=True, on_delete="CASCADE")
    secret = peewee.TextField()
    last_step = peewee.BigIntegerField()
    enabled_at = peewee.DateTimeField(null=True)
    created_at = peewee.DateTimeField()

    class Meta:
        table_name = "core_two_factor"


class RecoveryCode(Frozen):
    user = peewee.ForeignKeyField(User, on_delete="CASCADE")
    code_hash = peewee.CharField(max_length=64)
    used_at = peewee.DateTimeField(null=True)
    created_at = peewee.DateTimeField()

    class Meta:
        table_name = "core_recovery_code"
        indexes = ((("user", "code_hash"), True),)


MIGRATION = combined(
    "0007_two_factor",
    create_tables("0007_two_factor", [TwoFactor, RecoveryCode]),
    add_fields(
        "0007_two_factor", "core_account", two_factor_required=peewee.BooleanField(default=False)
    ),
)
