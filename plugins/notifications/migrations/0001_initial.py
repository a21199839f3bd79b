"""The tables as first released (frozen: never edit, add a step instead)."""

import peewee

from core import Frozen, create_tables, stub

Account = stub("core_account")
Event = stub("core_event")


class Preference(Frozen):
    account = peewee.ForeignKeyField(Account, on_delete="CASCADE")
    event_type = peewee.CharField(max_length=100)
    channel = peewee.CharField(max_length=50)
    enabled = peewee.BooleanField()

    class Meta:
        table_name = "notifications_preference"
        indexes = ((("account", "event_type", "channel"), True),)


class Delivery(Frozen):
    status = peewee.CharField(max_length=10, index=True)
    attempts = peewee.IntegerField()
    error = peewee.CharField(max_length=500)
    created_at = peewee.DateTimeField()
    next_attempt_at = peewee.DateTimeField()
    claimed_at = peewee.DateTimeField(null=True)
    sent_at = peewee.DateTimeField(null=True)
    account = peewee.ForeignKeyField(Account, on_delete="CASCADE")
    event = peewee.ForeignKeyField(Event, null=True, on_delete="CASCADE")
    event_type = peewee.CharField(max_length=100)
    channel = peewee.CharField(max_length=50)
    target = peewee.CharField(max_length=254, null=True)

    class Meta:
        table_name = "notifications_delivery"
        indexes = (
            (("event", "channel", "target"), True),
            (("account", "created_at"), False),
            (("status", "next_attempt_at"), False),
        )


MIGRATION = create_tables("0001_initial", [Preference, Delivery])
