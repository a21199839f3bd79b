"""Plans, usage, plan changes, billing data and renewals (cancelling: ``cancellation``).

Every change re-reads the subscription row under a lock inside one
transaction, so double submits and concurrent requests change state once.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import peewee
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from core import (
    Account,
    PlanInfo,
    PlanResource,
    database,
    emit,
    encrypt,
    for_update,
    format_amount,
    per_request,
    utcnow,
)
from plugins.subscriptions import invoices
from plugins.subscriptions.catalog import Plan, catalog
from plugins.subscriptions.models import (
    BillingInfo,
    BillingRecord,
    Subscription,
    ThresholdNotice,
)

if TYPE_CHECKING:
    from schwifty import IBAN

THRESHOLDS = (80, 95, 100)
REPORTED = ("storage_bytes", "receipt_scans", "cash_registers", "webshops", "shipping_providers")
IBAN_CONTEXT = "subscriptions:iban:{}"


class SubscriptionError(ValueError):
    """A refused change; ``blockers`` lists what stands in the way."""

    def __init__(self, message: str, blockers: list[Blocker] | None = None) -> None:
        super().__init__(message)
        self.blockers = blockers or []


@dataclass(frozen=True)
class Blocker:
    resource: str
    label: str
    used: int
    limit: int
    unit: str = "count"
    manage_endpoint: str | None = None  # where the user can lower the usage


@dataclass(frozen=True)
class Preview:
    """What a plan change would do, shown before it is confirmed."""

    kind: str  # "upgrade", "downgrade", "same", "reactivate"
    current: Plan
    target: Plan
    interval: str
    price_difference: int  # per billing interval, cents
    prorata: int  # charged now for the rest of the period (upgrades)
    effective_at: dt.datetime
    blockers: list[Blocker] = field(default_factory=list)


def add_interval(start: dt.datetime, interval: str) -> dt.datetime:
    """Same day next month (clamped to the month's end) or next year."""
    months = 12 if interval == "year" else 1
    month = start.month - 1 + months
    year, month = start.year + month // 12, month % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)


def _pm():
    return current_app.extensions["kontor"].pm


def subscription(account: Account) -> Subscription:
    """The account's subscription, created on the operator's default plan."""
    row = per_request(
        ("subscription", account.id),
        lambda: Subscription.get_or_none(Subscription.account == account.id),
    )
    if row is not None:
        return row
    cat, now = catalog(), utcnow()
    trial = dt.timedelta(days=cat.trial_days) if cat.trial_days else None
    try:
        with database.atomic():
            return Subscription.create(
                account=account,
                plan=cat.default_plan,
                interval="month",
                period_start=now,
                period_end=now + trial if trial else add_interval(now, "month"),
                trial_ends_at=now + trial if trial else None,
            )
    except peewee.IntegrityError:  # created concurrently
        return Subscription.get(Subscription.account == account)


def locked(account: Account) -> Subscription:
    """The subscription row, locked until the caller's transaction ends."""
    subscription(account)
    return for_update(Subscription.select().where(Subscription.account == account)).get()


def plan_of(sub: Subscription) -> Plan:
    return catalog().get(sub.plan) or catalog().get(catalog().default_plan)


def resources() -> list[PlanResource]:
    """Every plan resource, in display order (collected when the app was created)."""
    return current_app.extensions["kontor"].plan_resources


def usage(account: Account) -> dict[str, int]:
    """Current usage of every resource, from every plugin's usage hook."""
    merged: dict[str, int] = {}
    for result in _pm().hook.kontor_usage(account=account):
        merged.update(result or {})
    return merged


# Limits below this are small allowances, used up in normal use (``card_alert``).
CARD_ALERT_MIN_LIMIT = 10


@dataclass(frozen=True)
class UsageRow:
    """One resource's use against the plan, ready to show."""

    resource: PlanResource
    used: int
    limit: int
    percent: int  # of the limit, not capped (0 when the plan does not include it)
    level: str  # "none" (not included), "ok", "warning" (80 %), "critical" (95 %), "full"

    @property
    def bar(self) -> int:
        return min(100, self.percent)

    @property
    def percent_text(self) -> str:
        """The percentage ("67 %") joined by a no-break space: never split on narrow screens."""
        return f"{self.percent}\u00a0%"

    @property
    def near_limit(self) -> bool:
        return self.level in ("warning", "critical", "full")

    @property
    def alarming(self) -> bool:
        """95 % of the limit or more ("Fast erreicht", "Grenze erreicht")."""
        return self.level in ("critical", "full")


def _level(used: int, cap: int) -> tuple[int, str]:
    """The shown percentage (nearest whole number, but 100 only once the limit
    is reached) and the level, taken from the exact share like the events."""
    if cap == 0:
        return (0, "none") if used == 0 else (100, "full")
    percent = (used * 200 + cap) // (cap * 2)  # half up
    if used < cap:
        percent = min(percent, 99)
    for threshold, level in zip(reversed(THRESHOLDS), ("full", "critical", "warning"), strict=True):
        if used * 100 >= cap * threshold:
            return percent, level
    return percent, "ok"


def usage_overview(account: Account) -> list[UsageRow]:
    """Every limited resource with its use, in display order."""
    limits = plan_of(subscription(account)).limits
    used = usage(account)
    rows = []
    for res in resources():
        cap = limits.get(res.key)
        if cap is not None:
            rows.append(
                UsageRow(res, used.get(res.key, 0), cap, *_level(used.get(res.key, 0), cap))
            )
    return rows


def card_alert(row: UsageRow) -> bool:
    """Whether the overview card warns about this limit.

    Using all of a small allowance (the one user of Start, the one webshop of
    Standard) is how the plan is used, not a problem: the Abonnement page shows
    it. The card warns when something is over its limit (after a downgrade, or
    a resource the plan lacks) or when a larger allowance (storage, receipt
    scans) is running out, at 95 %.
    """
    return row.used > row.limit or (row.alarming and row.limit >= CARD_ALERT_MIN_LIMIT)


def reported_usage(account: Account) -> dict[str, int]:
    return json.loads(subscription(account).reported_json)


def plan_info(account: Account) -> PlanInfo:
    """The account's plan as core sees it; an expired subscription allows nothing."""
    sub = subscription(account)
    plan = plan_of(sub)
    return PlanInfo(plan.name, plan.limits, blocked=sub.status == "expired")


def limit(account: Account, resource: str) -> int | None:
    return plan_info(account).limit(resource)


def check_thresholds(account: Account) -> list[tuple[str, int]]:
    """Emit ``plan.limit_approaching`` once per resource, crossing and period.

    A change that crosses several thresholds at once (one invitation taking
    seats from 70 % to 100 %) reports only the highest; the lower ones are
    recorded as passed, so they never arrive late either.
    """
    sub = subscription(account)
    limits = plan_of(sub).limits
    kinds = {r.key: r for r in resources()}
    crossed = []
    for resource, used in usage(account).items():
        cap = limits.get(resource)
        if not cap:
            continue
        reached = [t for t in THRESHOLDS if used * 100 >= cap * t]
        if not reached:
            continue
        with database.atomic():
            done = {
                row.threshold
                for row in for_update(
                    ThresholdNotice.select(ThresholdNotice.threshold).where(
                        ThresholdNotice.account == account,
                        ThresholdNotice.resource == resource,
                        ThresholdNotice.period_start == sub.period_start,
                    )
                )
            }
            new = [t for t in reached if t not in done]
            if not new or max(new) < max(done, default=0):
                continue
            try:
                with database.atomic():  # a savepoint: a concurrent twin may have won
                    ThresholdNotice.insert_many(
                        [
                            {
                                "account": account,
                                "resource": resource,
                                "threshold": t,
                                "period_start": sub.period_start,
                            }
                            for t in new
                        ]
                    ).execute()
            except peewee.IntegrityError:
                continue  # already reported in this period
            emit(
                account,
                "plan.limit_approaching",
                _limit_data(kinds.get(resource), resource, used, cap, max(new)),
            )
        crossed.append((resource, max(new)))
    return crossed


def _limit_data(kind: PlanResource | None, key: str, used: int, cap: int, threshold: int) -> dict:
    """The event's German details: resource name, state and usage in its unit."""
    unit = kind.unit if kind else "count"
    with force_locale("de"):
        if threshold >= 100:
            state = _("Limit erreicht")
        else:
            state = _("%(threshold)d %% des Limits erreicht", threshold=threshold)
        return {
            "Ressource": str(kind.label) if kind else key,
            "Stand": state,
            "Nutzung": _(
                "%(used)s von %(limit)s",
                used=format_amount(used, unit),
                limit=format_amount(cap, unit),
            ),
        }


def report_usage(account: Account, amounts: Mapping[str, int]) -> None:
    """Store usage reported by another service, then check the thresholds."""
    with database.atomic():
        sub = locked(account)
        sub.reported_json = json.dumps({**json.loads(sub.reported_json), **amounts})
        sub.save(only=[Subscription.reported_json])
    check_thresholds(account)


def _blockers(account: Account, target: Plan) -> list[Blocker]:
    known = {r.key: r for r in resources()}
    used = usage(account)
    blockers = []
    for key, cap in target.limits.items():
        if used.get(key, 0) <= cap:
            continue
        res = known.get(key)
        blockers.append(
            Blocker(
                key,
                str(res.label) if res else key,
                used.get(key, 0),
                cap,
                res.unit if res else "count",
                res.manage_endpoint if res else None,
            )
        )
    return blockers


def preview(account: Account, plan_key: str, now: dt.datetime | None = None) -> Preview:
    """Price difference, pro-rata amount, effective date and blockers of a change."""
    target = catalog().get(plan_key)
    if target is None:
        raise SubscriptionError(_("Diesen Tarif gibt es nicht."))
    now = now or utcnow()
    sub = subscription(account)
    current = plan_of(sub)
    difference = target.price(sub.interval) - current.price(sub.interval)
    if sub.status == "expired":
        return Preview(
            "reactivate",
            current,
            target,
            sub.interval,
            difference,
            target.price(sub.interval),
            now,
            _blockers(account, target),
        )
    if target.key == current.key:
        return Preview("same", current, target, sub.interval, 0, 0, now)
    if target.price_month > current.price_month:
        span = (sub.period_end - sub.period_start).total_seconds()
        remaining = max(0.0, (sub.period_end - now).total_seconds()) / span if span else 0
        return Preview(
            "upgrade", current, target, sub.interval, difference, round(difference * remaining), now
        )
    return Preview(
        "downgrade",
        current,
        target,
        sub.interval,
        difference,
        0,
        sub.period_end,
        _blockers(account, target),
    )


def change_plan(account: Account, plan_key: str, now: dt.datetime | None = None) -> Preview:
    """Apply a previewed change: upgrades now, downgrades at renewal."""
    now = now or utcnow()
    with database.atomic():
        sub = locked(account)
        result = preview(account, plan_key, now)
        if result.kind == "same":
            if sub.scheduled_plan:  # choosing the current plan withdraws a scheduled change
                sub.scheduled_plan = None
                sub.save(only=[Subscription.scheduled_plan])
            return result
        if result.blockers:
            raise SubscriptionError(
                _(
                    "Der Wechsel ist nicht möglich, solange die Nutzung die Grenzen des "
                    "Tarifs übersteigt."
                ),
                result.blockers,
            )
        if result.kind == "downgrade":
            sub.scheduled_plan = result.target.key
            sub.save(only=[Subscription.scheduled_plan])
            return result
        if result.kind == "reactivate":
            sub.period_start, sub.period_end = now, add_interval(now, sub.interval)
            sub.status, sub.cancel_at_period_end = "active", False
            kind, amount = "renewal", result.target.price(sub.interval)
        else:
            kind, amount = "upgrade", result.prorata
        sub.plan, sub.scheduled_plan = result.target.key, None
        sub.save()
        _charge(sub, kind, amount, now, service_start=now if kind == "upgrade" else None)
    return result


def withdraw_change(account: Account) -> bool:
    with database.atomic():
        sub = locked(account)
        if not sub.scheduled_plan:
            return False
        sub.scheduled_plan = None
        sub.save(only=[Subscription.scheduled_plan])
    return True


def schedule_interval(account: Account, interval: str) -> None:
    """Switch monthly/yearly at the next renewal."""
    with database.atomic():
        sub = locked(account)
        sub.scheduled_interval = None if interval == sub.interval else interval
        sub.save(only=[Subscription.scheduled_interval])


def renew_due(now: dt.datetime | None = None) -> int:
    """Advance every due period: apply scheduled changes, charge, or expire.

    A cancelled contract expires at its end; a final period that the end
    cuts short is charged pro rata. Safe to run twice or in parallel: each
    subscription is handled under a lock and a billing record exists once
    per period.
    """
    now = now or utcnow()
    done = 0
    ended = Subscription.cancel_at_period_end & (Subscription.cancel_ends_at <= now)
    due = Subscription.select(Subscription.account).where(
        Subscription.status == "active", (Subscription.period_end <= now) | ended
    )
    for row in list(due):
        with database.atomic():
            sub = for_update(
                Subscription.select().where(Subscription.account == row.account_id)
            ).get()
            ends = sub.cancel_ends_at if sub.cancel_at_period_end else None
            while sub.status == "active":
                if ends is not None and ends <= now and ends <= sub.period_end:
                    sub.status, sub.period_end = "expired", ends
                    break
                if sub.period_end > now:
                    break
                sub.plan = sub.scheduled_plan or sub.plan
                sub.interval = sub.scheduled_interval or sub.interval
                sub.scheduled_plan = sub.scheduled_interval = None
                start, end = sub.period_end, add_interval(sub.period_end, sub.interval)
                amount = plan_of(sub).price(sub.interval)
                if ends is not None and ends < end:
                    amount = round(amount * (ends - start) / (end - start))
                    end = ends
                sub.period_start, sub.period_end = start, end
                _charge(sub, "renewal", amount, now)
            sub.save()
            done += 1
    return done


def _charge(
    sub: Subscription,
    kind: str,
    amount: int,
    now: dt.datetime,
    service_start: dt.datetime | None = None,
) -> None:
    """Book a charge once per period and issue its invoice in the same transaction."""
    key = {
        "account": sub.account_id,
        "kind": kind,
        "plan": sub.plan,
        "period_start": sub.period_start,
    }
    BillingRecord.insert(
        **key, interval=sub.interval, period_end=sub.period_end, amount_cents=amount
    ).on_conflict_ignore().execute()
    record = BillingRecord.get(*(getattr(BillingRecord, k) == v for k, v in key.items()))
    invoices.issue(record, plan_of(sub), current_app.config, service_start, now)


def billing_records(account: Account) -> list[BillingRecord]:
    return list(
        BillingRecord.select()
        .where(BillingRecord.account == account.id)
        .order_by(BillingRecord.created_at.desc(), BillingRecord.id.desc())
    )


def normalise_iban(value: str) -> IBAN:
    """``value`` as a checked IBAN, or a ValueError for the user.

    schwifty (its bank registry, about 1.3 MiB) is imported here, the one
    place that reads an IBAN (the billing form checks with this too), so web
    workers that never see one do not carry it.
    """
    from schwifty import IBAN
    from schwifty.exceptions import SchwiftyException

    try:
        return IBAN(value)
    except SchwiftyException:
        raise ValueError(_("Bitte geben Sie eine gültige IBAN ein.")) from None


def mask_iban(iban: IBAN) -> str:
    compact = iban.compact
    return f"{compact[:4]} •••• •••• {compact[-4:]}"


def mandate_reference(account: Account) -> str:
    """The account's SEPA mandate reference: unique per creditor, shown before confirming."""
    return f"KONTOR-{account.id:010d}"


def save_billing(account: Account, values: Mapping[str, str]) -> None:
    """Store billing data; a new IBAN replaces the old one, empty keeps it.

    Choosing SEPA with a new IBAN (or for the first time) records the mandate
    the user just gave. Nothing is written when the data is refused.
    """
    with database.atomic():
        info = BillingInfo.get_or_none(BillingInfo.account == account) or BillingInfo(
            account=account
        )
        for name in (
            "name",
            "street",
            "postal_code",
            "city",
            "country",
            "payment_method",
            "account_holder",
            "vat_id",
            "billing_email",
        ):
            setattr(info, name, values.get(name) or "")
        iban = normalise_iban(values["iban"]) if values.get("iban") else None
        if info.payment_method == "sepa" and not (iban or info.iban_encrypted):
            raise ValueError(_("Für die SEPA-Lastschrift wird eine IBAN benötigt."))
        if info.payment_method == "sepa" and (iban or info.mandate_signed_at is None):
            info.mandate_reference = mandate_reference(account)
            info.mandate_signed_at = utcnow()
        if iban is not None:
            info.save()  # an id binds the ciphertext to this row's account
            info.iban_encrypted = encrypt(iban.compact, IBAN_CONTEXT.format(account.id))
            info.iban_masked = mask_iban(iban)
        info.save()


# --- Closing the account ------------------------------------------------------

CLOSING_REASON = "Kontoschließung"


def end_for_closing(
    account: Account, immediately: bool, now: dt.datetime | None = None
) -> dt.datetime:
    """End the subscription because the account closes; return when it ends.

    At once means without refund: the period ends now. Otherwise the
    subscription runs to the end of the paid period. A cancellation the owner
    declared before stands as it was (and is not undone with the closing).
    """
    now = now or utcnow()
    with database.atomic():
        sub = locked(account)
        if sub.status == "active":
            if not sub.cancel_at_period_end:
                sub.cancel_at_period_end = True
                sub.cancel_kind = "ordinary"
                sub.cancel_reason = CLOSING_REASON
                sub.cancelled_at = now
                sub.cancel_ends_at = sub.period_end
            if immediately:
                sub.status, sub.period_end, sub.cancel_ends_at = "expired", now, now
            sub.save()
    return sub.cancel_ends_at if sub.status == "active" else now


def reopen_after_closing(account: Account) -> bool:
    """Undo :func:`end_for_closing` while the subscription still runs."""
    with database.atomic():
        sub = locked(account)
        if sub.status != "active" or sub.cancel_reason != CLOSING_REASON:
            return False
        sub.cancel_at_period_end, sub.cancelled_at, sub.cancel_ends_at = False, None, None
        sub.cancel_kind = sub.cancel_reason = ""
        sub.save()
    return True


def erase(account: Account) -> None:
    """Keep the contract and billing records (§ 147 AO) and the billing address
    printed on invoices; drop the payment details, free texts and who cancelled."""
    ThresholdNotice.delete().where(ThresholdNotice.account == account.id).execute()
    Subscription.update(
        status="expired",
        cancel_reason="",
        cancel_name="",
        cancel_email="",
        cancel_confirm_to="",
        reported_json="{}",
        scheduled_plan=None,
    ).where(Subscription.account == account.id).execute()
    BillingInfo.update(
        account_holder="", iban_encrypted="", iban_masked="", billing_email=""
    ).where(BillingInfo.account == account.id).execute()
