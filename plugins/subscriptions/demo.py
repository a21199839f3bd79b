"""Demo data: usage close to some limits, a cancellation that was taken back,
and invoices for a renewal and an upgrade."""

from __future__ import annotations

import datetime as dt

from core import Account, User, utcnow
from plugins.subscriptions import cancellation, contract_mail, services
from plugins.subscriptions.catalog import catalog
from plugins.subscriptions.models import BillingInfo, Subscription

# Share of the plan's limit in use: some resources near or at their limit,
# the others comfortably below, so the usage page shows every state.
SHARES = {
    "storage_bytes": 0.82,
    "receipt_scans": 0.96,
    "cash_registers": 0.5,
    "webshops": 1.0,
    "shipping_providers": 1.0,
}


def bill(account: Account) -> None:
    """A renewal ten days ago and an upgrade today, each with its invoice."""
    if BillingInfo.get_or_none(BillingInfo.account == account.id) is None:
        services.save_billing(
            account,
            {
                "name": account.company_name,
                "street": "Hauptstraße 5",
                "postal_code": "50667",
                "city": "Köln",
                "country": "DE",
                "payment_method": "invoice",
            },
        )
    services.subscription(account)  # created on first use
    now = utcnow()
    renewed = now - dt.timedelta(days=10)
    Subscription.update(period_start=renewed - dt.timedelta(days=30), period_end=renewed).where(
        Subscription.account == account.id
    ).execute()
    services.renew_due(renewed)
    current = services.plan_of(services.subscription(account))
    dearer = [p for p in catalog().plans if p.price_month > current.price_month]
    if dearer:
        services.change_plan(account, dearer[0].key, now)


def fill(account: Account, owner: User) -> None:
    """Bill, report usage (this also sends the threshold mails) and cancel, then undo."""
    bill(account)
    amounts = {}
    for resource, share in SHARES.items():
        if resource not in services.REPORTED:
            continue
        limit = services.limit(account, resource)
        if limit:
            amounts[resource] = int(limit * share)
    if amounts:
        services.report_usage(account, amounts)
    cancellation.cancel(
        account,
        cancellation.Declaration(
            cancellation.ORDINARY, owner.full_name, owner.email, contract_mail.recipient(account)
        ),
    )
    cancellation.undo(account)
