"""The sign-in history, and the masked IP address of each session (frozen:
never edit, add a step instead)."""

import peewee

from core.data.migrations import Frozen, add_fields, combined, create_tables, stub

User = stub("core_user")


class SignIn(Frozen):
    user = peewee.ForeignKeyField(User, on_delete="CASCADE")
    created_at = peewee.DateTimeField()
    success = peewee.BooleanField()
    reason = peewee.CharField(max_length=20)
    user_agent = peewee.CharField(max_length=200)
    ip = peewee.CharField(max_length=45)

    class Meta:
        table_name = "core_sign_in"
        indexes = ((("user", "created_at"), False),)


MIGRATION = combined(
    "0009_sign_ins",
    create_tables("0009_sign_ins", [SignIn]),
    add_fields(
        "0009_sign_ins", "core_user_session", ip=peewee.CharField(max_length=45, default="")
    ),
)
