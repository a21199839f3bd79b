"""How far a delivery got before a crash (core.delivery.outbox stages)."""

import peewee

from core import add_fields

MIGRATION = add_fields(
    "0002_delivery_stage",
    "notifications_delivery",
    stage=peewee.CharField(max_length=10, default=""),
)
