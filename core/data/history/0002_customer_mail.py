"""Mails to customers and their recipients (frozen: never edit, add a step instead)."""

import peewee

from core.data.migrations import Frozen, create_tables, stub

Account = stub("core_account")


class CustomerMail(Frozen):
    status = peewee.CharField(max_length=10, index=True)
    attempts = peewee.IntegerField()
    error = peewee.CharField(max_length=500)
    created_at = peewee.DateTimeField()
    next_attempt_at = peewee.DateTimeField()
    claimed_at = peewee.DateTimeField(null=True)
    sent_at = peewee.DateTimeField(null=True)
    account = peewee.ForeignKeyField(Account, on_delete="CASCADE")
    transport = peewee.CharField(max_length=20)
    customer_ref = peewee.CharField(max_length=100, null=True, index=True)
    subject = peewee.CharField(max_length=250)
    text = peewee.TextField()
    message_id = peewee.CharField(max_length=250)
    note = peewee.CharField(max_length=300)

    class Meta:
        table_name = "core_customer_mail"


class CustomerMailRecipient(Frozen):
    mail = peewee.ForeignKeyField(CustomerMail, on_delete="CASCADE")
    address = peewee.CharField(max_length=254)
    status = peewee.CharField(max_length=10)
    error = peewee.CharField(max_length=300)

    class Meta:
        table_name = "core_customer_mail_recipient"


MIGRATION = create_tables("0002_customer_mail", [CustomerMail, CustomerMailRecipient])
