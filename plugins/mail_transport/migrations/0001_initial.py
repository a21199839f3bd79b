"""The tables as first released (frozen: never edit, add a step instead)."""

import peewee

from core import Frozen, create_tables, stub

Account = stub("core_account")


class MailSettings(Frozen):
    account = peewee.ForeignKeyField(Account, unique=True, on_delete="CASCADE")
    mode = peewee.CharField(max_length=10)
    own_active = peewee.BooleanField()
    keep_history = peewee.BooleanField()
    sender_name = peewee.CharField(max_length=100)
    reply_to = peewee.CharField(max_length=254)
    own_email = peewee.CharField(max_length=254)
    password_encrypted = peewee.TextField()
    imap_user = peewee.CharField(max_length=254)
    imap_host = peewee.CharField(max_length=253)
    imap_port = peewee.IntegerField()
    imap_security = peewee.CharField(max_length=10)
    smtp_user = peewee.CharField(max_length=254)
    smtp_host = peewee.CharField(max_length=253)
    smtp_port = peewee.IntegerField()
    smtp_security = peewee.CharField(max_length=10)
    sent_folder = peewee.CharField(max_length=200)
    verified_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "mail_transport_settings"


class ConnectionCheck(Frozen):
    account = peewee.ForeignKeyField(Account, on_delete="CASCADE")
    status = peewee.CharField(max_length=10)
    steps_json = peewee.TextField()
    created_at = peewee.DateTimeField()
    finished_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "mail_transport_check"


MIGRATION = create_tables("0001_initial", [MailSettings, ConnectionCheck])
