"""Tables of the remote support plugin."""

from __future__ import annotations

import peewee

from core import Account, BaseModel, User, utcnow


class Grant(BaseModel):
    """A consent to remote maintenance; active until revoked or expired."""

    account = peewee.ForeignKeyField(Account, on_delete="CASCADE")
    granted_by = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL")
    granted_by_name = peewee.CharField(max_length=201)
    granted_at = peewee.DateTimeField(default=utcnow)
    expires_at = peewee.DateTimeField(null=True)  # None: until revoked
    scope = peewee.CharField(max_length=10)  # "full" or "read"
    revoked_at = peewee.DateTimeField(null=True)
    ended_logged = peewee.BooleanField(default=False)

    class Meta:
        table_name = "remote_support_grant"
        indexes = ((("account", "revoked_at"), False),)


class Staff(BaseModel):
    """A support employee of the operator (not a customer user)."""

    email = peewee.CharField(max_length=254, unique=True)
    name = peewee.CharField(max_length=100)
    password_hash = peewee.CharField(max_length=255)
    totp_secret = peewee.TextField()  # encrypted
    last_totp_step = peewee.IntegerField(default=0)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "remote_support_staff"


class StaffSession(BaseModel):
    """A staff login (console access), revocable server-side."""

    token_hash = peewee.CharField(max_length=64, unique=True)
    staff = peewee.ForeignKeyField(Staff, on_delete="CASCADE")
    created_at = peewee.DateTimeField(default=utcnow)
    expires_at = peewee.DateTimeField()
    revoked_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "remote_support_staff_session"


class SupportSession(BaseModel):
    """A staff member working inside a customer account under a grant."""

    token_hash = peewee.CharField(max_length=64, unique=True)
    staff = peewee.ForeignKeyField(Staff, on_delete="CASCADE")
    account = peewee.ForeignKeyField(Account, on_delete="CASCADE")
    grant = peewee.ForeignKeyField(Grant, on_delete="CASCADE")
    reason = peewee.CharField(max_length=200)
    started_at = peewee.DateTimeField(default=utcnow)
    ended_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "remote_support_session"


class AccessLog(BaseModel):
    """What happened with support access, readable by the customer."""

    account = peewee.ForeignKeyField(Account, on_delete="CASCADE")
    at = peewee.DateTimeField(default=utcnow)
    actor = peewee.CharField(max_length=201)
    action = peewee.CharField(max_length=30)
    detail = peewee.CharField(max_length=500, default="")

    class Meta:
        table_name = "remote_support_access_log"
        indexes = ((("account", "at"), False),)


MODELS = (Grant, Staff, StaffSession, SupportSession, AccessLog)
