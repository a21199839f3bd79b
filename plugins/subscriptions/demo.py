"""Demo data: usage close to some limits and a cancellation that was taken back."""

from __future__ import annotations

from core.models import Account, User
from plugins.subscriptions import cancellation, contract_mail, services

# Share of the plan's limit in use: some resources near or at their limit,
# the others comfortably below, so the usage page shows every state.
SHARES = {
    "storage_bytes": 0.82,
    "receipt_scans": 0.96,
    "cash_registers": 0.5,
    "webshops": 1.0,
    "shipping_providers": 1.0,
}


def fill(account: Account, owner: User) -> None:
    """Report usage (this also sends the threshold mails) and cancel, then undo."""
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
