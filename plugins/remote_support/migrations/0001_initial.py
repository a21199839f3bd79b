"""The tables as first released (frozen: never edit, add a step instead)."""

import peewee

from core import Frozen, create_tables, stub

Account = stub("core_account")
User = stub("core_user")


class Grant(Frozen):
    account = peewee.ForeignKeyField(Account, on_delete="CASCADE")
    granted_by = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL")
    granted_by_name = peewee.CharField(max_length=201)
    granted_at = peewee.DateTimeField()
    expires_at = peewee.DateTimeField(null=True)
    scope = peewee.CharField(max_length=10)
    revoked_at = peewee.DateTimeField(null=True)
    ended_logged = peewee.BooleanField()

    class Meta:
        table_name = "remote_support_grant"
        indexes = ((("account", "revoked_at"), False),)


class Staff(Frozen):
    email = peewee.CharField(max_length=254, unique=True)
    name = peewee.CharField(max_length=100)
    password_hash = peewee.CharField(max_length=255)
    totp_secret = peewee.TextField()
    last_totp_step = peewee.IntegerField()
    created_at = peewee.DateTimeField()

    class Meta:
        table_name = "remote_support_staff"


class StaffSession(Frozen):
    token_hash = peewee.CharField(max_length=64, unique=True)
    staff = peewee.ForeignKeyField(Staff, on_delete="CASCADE")
    created_at = peewee.DateTimeField()
    expires_at = peewee.DateTimeField()
    revoked_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "remote_support_staff_session"


class SupportSession(Frozen):
    token_hash = peewee.CharField(max_length=64, unique=True)
    staff = peewee.ForeignKeyField(Staff, on_delete="CASCADE")
    account = peewee.ForeignKeyField(Account, on_delete="CASCADE")
    grant = peewee.ForeignKeyField(Grant, on_delete="CASCADE")
    reason = peewee.CharField(max_length=200)
    started_at = peewee.DateTimeField()
    ended_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "remote_support_session"


class AccessLog(Frozen):
    account = peewee.ForeignKeyField(Account, on_delete="CASCADE")
    at = peewee.DateTimeField()
    actor = peewee.CharField(max_length=201)
    action = peewee.CharField(max_length=30)
    detail = peewee.CharField(max_length=500)

    class Meta:
        table_name = "remote_support_access_log"
        indexes = ((("account", "at"), False),)


MIGRATION = create_tables("0001_initial", [Grant, Staff, StaffSession, SupportSession, AccessLog])
