"""The customer's name next to the customer number."""

import peewee

from core.data.migrations import add_fields

MIGRATION = add_fields(
    "0003_customer_name",
    "core_customer_mail",
    customer_name=peewee.CharField(max_length=200, default=""),
)
