"""How far a system mail got before a crash, and whether its message is encrypted."""

import peewee

from core.data.migrations import add_fields

MIGRATION = add_fields(
    "0004_outbox_stage",
    "core_mail_outbox",
    stage=peewee.CharField(max_length=10, default=""),
    sealed=peewee.BooleanField(default=False),
)
