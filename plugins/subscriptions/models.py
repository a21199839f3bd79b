"""Tables of the subscriptions plugin."""

from __future__ import annotations

import peewee

from core import Account, BaseModel, utcnow


class Subscription(BaseModel):
    """The account's plan and billing period."""

    account = peewee.ForeignKeyField(Account, unique=True, on_delete="CASCADE")
    plan = peewee.CharField(max_length=50)
    interval = peewee.CharField(max_length=5, default="month")  # "month" or "year"
    period_start = peewee.DateTimeField()
    period_end = peewee.DateTimeField()
    status = peewee.CharField(max_length=10, default="active")  # active, expired
    trial_ends_at = peewee.DateTimeField(null=True)
    scheduled_plan = peewee.CharField(max_length=50, null=True)
    scheduled_interval = peewee.CharField(max_length=5, null=True)
    # Cancelled (the name is older than extraordinary cancellations, which
    # may end the contract before the period does): ``cancel_ends_at`` says when.
    cancel_at_period_end = peewee.BooleanField(default=False)
    cancel_reason = peewee.CharField(max_length=500, default="")  # extraordinary only
    cancelled_at = peewee.DateTimeField(null=True)  # receipt of the declaration
    cancel_kind = peewee.CharField(max_length=13, default="")  # "ordinary", "extraordinary"
    cancel_ends_at = peewee.DateTimeField(null=True)
    cancel_name = peewee.CharField(max_length=200, default="")  # who declared it
    cancel_email = peewee.CharField(max_length=254, default="")
    cancel_confirm_to = peewee.CharField(max_length=254, default="")  # where confirmations go
    reminded_for = peewee.DateTimeField(null=True)  # period end the renewal reminder was for
    reported_json = peewee.TextField(default="{}")  # usage reported by other services

    class Meta:
        table_name = "subscriptions_subscription"


class ThresholdNotice(BaseModel):
    """One row per crossed threshold and period: the event is emitted once."""

    account = peewee.ForeignKeyField(Account, on_delete="CASCADE")
    resource = peewee.CharField(max_length=50)
    threshold = peewee.IntegerField()
    period_start = peewee.DateTimeField()

    class Meta:
        table_name = "subscriptions_threshold_notice"
        indexes = ((("account", "resource", "threshold", "period_start"), True),)


BILLING_TABLE = "subscriptions_billing_info"


class BillingInfo(BaseModel):
    """Billing address and payment method; the IBAN is stored encrypted."""

    account = peewee.ForeignKeyField(Account, unique=True, on_delete="CASCADE")
    name = peewee.CharField(max_length=200)
    street = peewee.CharField(max_length=200)
    postal_code = peewee.CharField(max_length=10)
    city = peewee.CharField(max_length=100)
    country = peewee.CharField(max_length=2, default="DE")
    payment_method = peewee.CharField(max_length=10)  # "sepa" or "invoice"
    account_holder = peewee.CharField(max_length=200, default="")
    iban_encrypted = peewee.TextField(default="")
    iban_masked = peewee.CharField(max_length=40, default="")
    vat_id = peewee.CharField(max_length=20, default="")
    billing_email = peewee.CharField(max_length=254, default="")
    mandate_reference = peewee.CharField(max_length=35, default="")
    mandate_signed_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = BILLING_TABLE


class BillingRecord(BaseModel):
    """A charge: a renewal or the pro-rata part of an upgrade."""

    account = peewee.ForeignKeyField(Account, on_delete="CASCADE")
    kind = peewee.CharField(max_length=10)  # "renewal" or "upgrade"
    plan = peewee.CharField(max_length=50)
    interval = peewee.CharField(max_length=5)
    period_start = peewee.DateTimeField()
    period_end = peewee.DateTimeField()
    amount_cents = peewee.IntegerField()
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "subscriptions_billing_record"
        indexes = ((("account", "kind", "plan", "period_start"), True),)


MODELS = (Subscription, ThresholdNotice, BillingInfo, BillingRecord)
