"""Confirmations of contract changes by mail, in German, through the outbox.

Text form (§ 126b BGB) for what the customer declared or agreed to: plan
changes, scheduled downgrades, cancellations and their undo, and the
reminder before a yearly renewal. They go to the billing e-mail address if
the billing details name one (invoices go there too), otherwise to the
owner's login address; a cancellation's to the address given on its page.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _
from peewee import fn

from core import (
    Account,
    User,
    database,
    external_url,
    format_cents,
    format_when,
    queue_template_mail,
    utcnow,
)
from plugins.subscriptions.catalog import Plan, catalog
from plugins.subscriptions.models import BillingInfo, Subscription
from plugins.subscriptions.services import Preview

#: How long before a yearly renewal the reminder goes out.
REMINDER_AHEAD = dt.timedelta(days=30)


def owner(account: Account) -> User | None:
    return User.get_or_none(User.account == account.id, User.role == "owner")


def recipient(account: Account) -> str:
    """The billing e-mail address if there is one, else the owner's."""
    info = BillingInfo.get_or_none(BillingInfo.account == account.id)
    if info is not None and info.billing_email:
        return info.billing_email
    user = owner(account)
    return user.email if user else ""


def signed(cents: int) -> str:
    """An amount with its sign, "+" included: how a price difference reads."""
    return ("+" if cents > 0 else "") + format_cents(cents)


def _send(account: Account, to: str, subject: str, template: str, **context: Any) -> None:
    """Render and queue in German, whatever language the page was in."""
    if not to:
        return  # an account without an owner has nobody to confirm to
    with force_locale("de"):
        queue_template_mail(
            account,
            to,
            subject,
            f"subscriptions/mail/{template}.txt",
            account=account,
            **context,
        )


def plan_changed(account: Account, preview: Preview) -> None:
    """Confirm an applied plan change or a scheduled downgrade."""
    if preview.kind == "same":
        return
    with force_locale("de"):
        subject = (
            _("Tarifwechsel zu %(plan)s vorgemerkt", plan=preview.target.name)
            if preview.kind == "downgrade"
            else _("Bestätigung: Ihr Tarif ist jetzt %(plan)s", plan=preview.target.name)
        )
    current, target = preview.current, preview.target
    _send(
        account,
        recipient(account),
        subject,
        "plan_changed",
        preview=preview,
        month=signed(target.price_month - current.price_month),
        year=signed(target.price_year - current.price_year),
    )


def cancellation_received(account: Account, sub: Subscription, plan: Plan) -> None:
    with force_locale("de"):
        subject = _(
            "Bestätigung Ihrer Kündigung: Vertrag endet am %(date)s",
            date=format_when(sub.cancel_ends_at, False),
        )
    _send(
        account,
        sub.cancel_confirm_to,
        subject,
        "cancellation_received",
        sub=sub,
        plan=plan,
        link=external_url("subscriptions.cancel"),
    )


def cancellation_withdrawn(
    account: Account,
    sub: Subscription,
    plan: Plan,
    to: str,
    ended: dt.datetime,
    now: dt.datetime,
) -> None:
    with force_locale("de"):
        subject = _("Bestätigung: Ihre Kündigung ist zurückgenommen")
    _send(
        account,
        to,
        subject,
        "cancellation_withdrawn",
        sub=sub,
        plan=plan,
        ended=ended,
        received=now,
    )


def remind_renewals(now: dt.datetime | None = None) -> int:
    """Remind of every yearly renewal due within 30 days, once per renewal.

    The reminder is claimed by a conditional update in the transaction that
    queues the mail, so parallel or repeated runs send it once.
    """
    now = now or utcnow()
    not_yet = Subscription.reminded_for.is_null() | (
        Subscription.reminded_for != Subscription.period_end
    )
    due = Subscription.select().where(
        Subscription.status == "active",
        ~Subscription.cancel_at_period_end,
        fn.COALESCE(Subscription.scheduled_interval, Subscription.interval) == "year",
        Subscription.period_end > now,
        Subscription.period_end <= now + REMINDER_AHEAD,
        not_yet,
    )
    sent = 0
    for sub in list(due):
        with database.atomic():
            claimed = (
                Subscription.update(reminded_for=sub.period_end)
                .where(
                    Subscription.id == sub.id,
                    Subscription.period_end == sub.period_end,
                    ~Subscription.cancel_at_period_end,
                    not_yet,
                )
                .execute()
            )
            if not claimed:
                continue
            _renewal_reminder(sub)
        sent += 1
    return sent


def _renewal_reminder(sub: Subscription) -> None:
    plans = catalog()
    plan = plans.get(sub.scheduled_plan or sub.plan) or plans.get(plans.default_plan)
    with force_locale("de"):
        subject = _(
            "Ihr Kontor-Abonnement verlängert sich am %(date)s",
            date=format_when(sub.period_end, False),
        )
    _send(
        sub.account,
        recipient(sub.account),
        subject,
        "renewal_reminder",
        sub=sub,
        plan=plan,
        cancel_link=external_url("subscriptions.cancel"),
        plans_link=external_url("subscriptions.change"),
    )
