"""One-time links sent by mail (frozen: never edit, add a step instead)."""

import peewee

from core.data.migrations import Frozen, create_tables, stub

User = stub("core_user")


class EmailLink(Frozen):
    purpose = peewee.CharField(max_length=10)
    token_hash = peewee.CharField(max_length=64, unique=True)
    user = peewee.ForeignKeyField(User, null=True, on_delete="CASCADE")
    email = peewee.CharField(max_length=254, index=True)
    data_json = peewee.TextField()
    created_at = peewee.DateTimeField()
    expires_at = peewee.DateTimeField()

    class Meta:
        table_name = "core_email_link"


MIGRATION = create_tables("0006_email_links", [EmailLink])
