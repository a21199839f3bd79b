"""Subscription invoices and their gapless number series (frozen: never edit,
add a step instead)."""

import peewee

from core import Frozen, create_tables, stub

Account = stub("core_account")
BillingRecord = stub("subscriptions_billing_record")


class InvoiceCounter(Frozen):
    series = peewee.CharField(max_length=30, primary_key=True)
    last = peewee.IntegerField()

    class Meta:
        table_name = "subscriptions_invoice_counter"


class Invoice(Frozen):
    account = peewee.ForeignKeyField(Account, null=True, on_delete="CASCADE")
    billing_record = peewee.ForeignKeyField(
        BillingRecord, null=True, unique=True, on_delete="SET NULL"
    )
    number = peewee.CharField(max_length=40, unique=True)
    issued_on = peewee.DateField()
    period_start = peewee.DateField()
    period_end = peewee.DateField()
    net_cents = peewee.IntegerField()
    vat_cents = peewee.IntegerField()
    gross_cents = peewee.IntegerField()
    data_json = peewee.TextField()
    pdf = peewee.BlobField()
    created_at = peewee.DateTimeField()

    class Meta:
        table_name = "subscriptions_invoice"


MIGRATION = create_tables("0004_invoices", [InvoiceCounter, Invoice])
