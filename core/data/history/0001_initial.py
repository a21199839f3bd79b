"""Core's tables as first released (frozen: never edit, add a step instead)."""

import peewee

from core.data.migrations import Frozen, create_tables


class Account(Frozen):
    company_name = peewee.CharField(max_length=200)
    notification_email = peewee.CharField(max_length=254, null=True)
    mobile_number = peewee.CharField(max_length=20, null=True)
    created_at = peewee.DateTimeField()

    class Meta:
        table_name = "core_account"


class User(Frozen):
    account = peewee.ForeignKeyField(Account, on_delete="CASCADE")
    email = peewee.CharField(max_length=254, unique=True)
    password_hash = peewee.CharField(max_length=255, null=True)
    first_name = peewee.CharField(max_length=100)
    last_name = peewee.CharField(max_length=100)
    role = peewee.CharField(max_length=10)
    created_at = peewee.DateTimeField()

    class Meta:
        table_name = "core_user"


class UserSession(Frozen):
    token_hash = peewee.CharField(max_length=64, unique=True)
    user = peewee.ForeignKeyField(User, on_delete="CASCADE")
    created_at = peewee.DateTimeField()
    last_seen_at = peewee.DateTimeField()
    expires_at = peewee.DateTimeField()
    revoked_at = peewee.DateTimeField(null=True)
    user_agent = peewee.CharField(max_length=200)

    class Meta:
        table_name = "core_user_session"


class Invitation(Frozen):
    account = peewee.ForeignKeyField(Account, on_delete="CASCADE")
    user = peewee.ForeignKeyField(User, on_delete="CASCADE", unique=True)
    token_hash = peewee.CharField(max_length=64, unique=True)
    expires_at = peewee.DateTimeField()

    class Meta:
        table_name = "core_invitation"


class Event(Frozen):
    account = peewee.ForeignKeyField(Account, on_delete="CASCADE")
    type = peewee.CharField(max_length=100)
    data_json = peewee.TextField()
    idempotency_key = peewee.CharField(max_length=200, null=True)
    created_at = peewee.DateTimeField()

    class Meta:
        table_name = "core_event"
        indexes = ((("account", "idempotency_key"), True),)


class MailOutbox(Frozen):
    status = peewee.CharField(max_length=10, index=True)
    attempts = peewee.IntegerField()
    error = peewee.CharField(max_length=500)
    created_at = peewee.DateTimeField()
    next_attempt_at = peewee.DateTimeField()
    claimed_at = peewee.DateTimeField(null=True)
    sent_at = peewee.DateTimeField(null=True)
    account = peewee.ForeignKeyField(Account, null=True, on_delete="CASCADE")
    message = peewee.TextField()

    class Meta:
        table_name = "core_mail_outbox"


MIGRATION = create_tables(
    "0001_initial", [Account, User, UserSession, Invitation, Event, MailOutbox]
)
