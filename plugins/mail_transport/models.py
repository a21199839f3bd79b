"""Tables of the mail transport plugin."""

from __future__ import annotations

import peewee

from core import Account, BaseModel, utcnow


class MailSettings(BaseModel):
    """How the account's customer mails are sent. The password is encrypted."""

    account = peewee.ForeignKeyField(Account, unique=True, on_delete="CASCADE")
    mode = peewee.CharField(max_length=10, default="service")  # "service" or "own"
    own_active = peewee.BooleanField(default=False)
    keep_history = peewee.BooleanField(default=False)
    sender_name = peewee.CharField(max_length=100, default="")
    reply_to = peewee.CharField(max_length=254, default="")
    own_email = peewee.CharField(max_length=254, default="")
    password_encrypted = peewee.TextField(default="")
    imap_user = peewee.CharField(max_length=254, default="")
    imap_host = peewee.CharField(max_length=253, default="")
    imap_port = peewee.IntegerField(default=993)
    imap_security = peewee.CharField(max_length=10, default="ssl")
    smtp_user = peewee.CharField(max_length=254, default="")
    smtp_host = peewee.CharField(max_length=253, default="")
    smtp_port = peewee.IntegerField(default=587)
    smtp_security = peewee.CharField(max_length=10, default="starttls")
    sent_folder = peewee.CharField(max_length=200, default="")
    verified_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "mail_transport_settings"


class ConnectionCheck(BaseModel):
    """One run of "Verbinden", done in the worker and shown step by step."""

    account = peewee.ForeignKeyField(Account, on_delete="CASCADE")
    status = peewee.CharField(max_length=10, default="running")  # running, passed, failed
    steps_json = peewee.TextField(default="[]")
    created_at = peewee.DateTimeField(default=utcnow)
    finished_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "mail_transport_check"


MODELS = (MailSettings, ConnectionCheck)
