"""Cancellation as § 312k BGB describes it: what was declared, when the contract
ends, and the renewal reminder sent; a cancellation made before ends with its
period (frozen: never edit, add a step instead)."""

import peewee

from core import Migration, add_fields

_COLUMNS = add_fields(
    "0003_cancellation",
    "subscriptions_subscription",
    cancel_kind=peewee.CharField(max_length=13, default=""),
    cancel_ends_at=peewee.DateTimeField(null=True),
    cancel_name=peewee.CharField(max_length=200, default=""),
    cancel_email=peewee.CharField(max_length=254, default=""),
    cancel_confirm_to=peewee.CharField(max_length=254, default=""),
    reminded_for=peewee.DateTimeField(null=True),
)


def _apply(db: peewee.Database) -> None:
    _COLUMNS.apply(db)
    db.execute_sql(
        "UPDATE subscriptions_subscription SET cancel_kind = 'ordinary',"
        " cancel_ends_at = period_end"
        " WHERE cancel_at_period_end AND cancel_ends_at IS NULL"
    )


MIGRATION = Migration("0003_cancellation", _apply)
