"""VAT id, billing e-mail and the SEPA mandate on the billing information."""

import peewee

from core import add_fields

MIGRATION = add_fields(
    "0002_billing_details",
    "subscriptions_billing_info",
    vat_id=peewee.CharField(max_length=20, default=""),
    billing_email=peewee.CharField(max_length=254, default=""),
    mandate_reference=peewee.CharField(max_length=35, default=""),
    mandate_signed_at=peewee.DateTimeField(null=True),
)
