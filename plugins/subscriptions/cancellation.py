"""Cancellation as § 312k BGB describes it.

The owner declares it with the facts the law lists (contract, identity, kind,
a reason for an extraordinary one, the end, where the confirmation goes);
it is confirmed at once on screen and by mail, and can be taken back until
the contract ends. There is no notice period: an ordinary cancellation ends
the contract at the end of the billing period at the earliest, an
extraordinary one at the end of the day it is received.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from core import TIMEZONE, Account, database, utcnow
from plugins.subscriptions import contract_mail, services
from plugins.subscriptions.models import Subscription

ORDINARY, EXTRAORDINARY = "ordinary", "extraordinary"
_LOCAL = ZoneInfo(TIMEZONE)


@dataclass(frozen=True)
class Declaration:
    """What the owner declared on the cancellation page."""

    kind: str  # ORDINARY or EXTRAORDINARY
    name: str
    email: str
    confirm_to: str
    end_day: dt.date | None = None  # None: "zum nächstmöglichen Zeitpunkt"
    reason: str = ""  # extraordinary only


def local_day(value: dt.datetime) -> dt.date:
    """The Berlin calendar day of a stored (naive UTC) time."""
    return value.replace(tzinfo=dt.UTC).astimezone(_LOCAL).date()


def end_of_day(day: dt.date) -> dt.datetime:
    """The last second of ``day`` in Berlin, as a stored (naive UTC) time."""
    local = dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=_LOCAL)
    return local.astimezone(dt.UTC).replace(tzinfo=None)


def earliest_end(sub: Subscription, kind: str, now: dt.datetime) -> dt.datetime:
    """When a cancellation of ``kind`` received ``now`` can end the contract at the earliest."""
    if kind == EXTRAORDINARY:
        return min(end_of_day(local_day(now)), sub.period_end)
    return sub.period_end


def end_for(sub: Subscription, declaration: Declaration, now: dt.datetime) -> dt.datetime:
    """The contract's end: the earliest possible one, or the end of the chosen day."""
    earliest = earliest_end(sub, declaration.kind, now)
    if declaration.end_day is None or declaration.end_day <= local_day(earliest):
        return earliest
    return end_of_day(declaration.end_day)


def undoable(sub: Subscription, now: dt.datetime | None = None) -> bool:
    """Whether a cancellation stands that can still be taken back."""
    return (
        sub.status == "active"
        and sub.cancel_at_period_end
        and (now or utcnow()) < sub.cancel_ends_at
    )


def cancel(
    account: Account, declaration: Declaration, now: dt.datetime | None = None
) -> Subscription:
    """Record the cancellation and queue its confirmation, in one transaction.

    A second declaration while one stands changes nothing (double submits
    are confirmed once).
    """
    now = now or utcnow()
    with database.atomic():
        sub = services.locked(account)
        if sub.status != "active" or sub.cancel_at_period_end:
            return sub
        sub.cancel_at_period_end = True
        sub.cancel_kind = declaration.kind
        sub.cancel_reason = declaration.reason[:500] if declaration.kind == EXTRAORDINARY else ""
        sub.cancel_name = declaration.name[:200]
        sub.cancel_email = declaration.email[:254]
        sub.cancel_confirm_to = declaration.confirm_to[:254]
        sub.cancelled_at = now
        sub.cancel_ends_at = end_for(sub, declaration, now)
        sub.save()
        contract_mail.cancellation_received(account, sub, services.plan_of(sub))
    return sub


def undo(account: Account, now: dt.datetime | None = None) -> bool:
    """Take a cancellation back before the contract ends; confirmed by mail."""
    now = now or utcnow()
    with database.atomic():
        sub = services.locked(account)
        if not undoable(sub, now):
            return False
        to, ended = sub.cancel_confirm_to, sub.cancel_ends_at
        sub.cancel_at_period_end, sub.cancelled_at, sub.cancel_ends_at = False, None, None
        sub.cancel_kind = sub.cancel_reason = sub.cancel_name = sub.cancel_email = ""
        sub.cancel_confirm_to = ""
        sub.save()
        contract_mail.cancellation_withdrawn(account, sub, services.plan_of(sub), to, ended, now)
    return True
