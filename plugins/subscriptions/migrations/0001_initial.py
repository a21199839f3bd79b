"""The tables as first released (frozen: never edit, add a step instead)."""

import peewee

from core import Frozen, create_tables, stub

Account = stub("core_account")


class Subscription(Frozen):
    account = peewee.ForeignKeyField(Account, unique=True, on_delete="CASCADE")
    plan = peewee.CharField(max_length=50)
    interval = peewee.CharField(max_length=5)
    period_start = peewee.DateTimeField()
    period_end = peewee.DateTimeField()
    status = peewee.CharField(max_length=10)
    trial_ends_at = peewee.DateTimeField(null=True)
    scheduled_plan = peewee.CharField(max_length=50, null=True)
    scheduled_interval = peewee.CharField(max_length=5, null=True)
    cancel_at_period_end = peewee.BooleanField()
    cancel_reason = peewee.CharField(max_length=500)
    cancelled_at = peewee.DateTimeField(null=True)
    reported_json = peewee.TextField()

    class Meta:
        table_name = "subscriptions_subscription"


class ThresholdNotice(Frozen):
    account = peewee.ForeignKeyField(Account, on_delete="CASCADE")
    resource = peewee.CharField(max_length=50)
    threshold = peewee.IntegerField()
    period_start = peewee.DateTimeField()

    class Meta:
        table_name = "subscriptions_threshold_notice"
        indexes = ((("account", "resource", "threshold", "period_start"), True),)


class BillingInfo(Frozen):
    account = peewee.ForeignKeyField(Account, unique=True, on_delete="CASCADE")
    name = peewee.CharField(max_length=200)
    street = peewee.CharField(max_length=200)
    postal_code = peewee.CharField(max_length=10)
    city = peewee.CharField(max_length=100)
    country = peewee.CharField(max_length=2)
    payment_method = peewee.CharField(max_length=10)
    account_holder = peewee.CharField(max_length=200)
    iban_encrypted = peewee.TextField()
    iban_masked = peewee.CharField(max_length=40)

    class Meta:
        table_name = "subscriptions_billing_info"


class BillingRecord(Frozen):
    account = peewee.ForeignKeyField(Account, on_delete="CASCADE")
    kind = peewee.CharField(max_length=10)
    plan = peewee.CharField(max_length=50)
    interval = peewee.CharField(max_length=5)
    period_start = peewee.DateTimeField()
    period_end = peewee.DateTimeField()
    amount_cents = peewee.IntegerField()
    created_at = peewee.DateTimeField()

    class Meta:
        table_name = "subscriptions_billing_record"
        indexes = ((("account", "kind", "plan", "period_start"), True),)


MIGRATION = create_tables(
    "0001_initial", [Subscription, ThresholdNotice, BillingInfo, BillingRecord]
)
