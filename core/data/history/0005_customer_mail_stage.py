"""How far a customer mail got before a crash."""

import peewee

from core.data.migrations import add_fields

MIGRATION = add_fields(
    "0005_customer_mail_stage",
    "core_customer_mail",
    stage=peewee.CharField(max_length=10, default=""),
)
