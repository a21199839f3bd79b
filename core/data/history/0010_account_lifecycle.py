"""Closing an account (dates on the account) and data exports (frozen: never
edit, add a step instead)."""

import peewee

from core.data.migrations import Frozen, add_fields, combined, create_tables, stub

Account = stub("core_account")
User = stub("core_user")

# The account's closing dates, named for tests that take them away again.
COLUMNS = ("closing_requested_at", "erase_at", "erased_at")


class DataExport(Frozen):
    account = peewee.ForeignKeyField(Account, on_delete="CASCADE")
    user = peewee.ForeignKeyField(User, on_delete="CASCADE")
    status = peewee.CharField(max_length=10)
    token_hash = peewee.CharField(max_length=64, null=True, unique=True)
    file_name = peewee.CharField(max_length=100)
    created_at = peewee.DateTimeField()
    expires_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "core_data_export"


MIGRATION = combined(
    "0010_account_lifecycle",
    add_fields(
        "0010_account_lifecycle",
        "core_account",
        **{name: peewee.DateTimeField(null=True) for name in COLUMNS},
    ),
    create_tables("0010_account_lifecycle", [DataExport]),
)
