"""Tables of the notifications plugin: preferences and the delivery outbox."""

from __future__ import annotations

import peewee

from core import Account, BaseModel, Event, OutboxRow


class Preference(BaseModel):
    """An explicit choice for one event on one channel (absent: the default)."""

    account = peewee.ForeignKeyField(Account, on_delete="CASCADE")
    event_type = peewee.CharField(max_length=100)
    channel = peewee.CharField(max_length=50)
    enabled = peewee.BooleanField()

    class Meta:
        table_name = "notifications_preference"
        indexes = ((("account", "event_type", "channel"), True),)


class Delivery(OutboxRow):
    """One message on one channel: the outbox row and the log entry in one.

    The unique key (event, channel, target) means an event can never produce
    two messages on a channel to the same recipient.
    """

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


MODELS = (Preference, Delivery)
