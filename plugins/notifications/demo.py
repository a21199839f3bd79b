"""Demo data: a few events of the invoicing service in the delivery log."""

from __future__ import annotations

from core import Account, emit

EVENTS = (
    ("quote.accepted", {"Angebot": "AN-2026-0042", "Kunde": "Bäckerei Schmidt"}),
    ("subscription_invoice.sent", {"Rechnung": "RE-2026-0117", "Kunde": "Praxis Dr. Weber"}),
    ("dunning.sent", {"Mahnung": "MA-2026-0008", "Kunde": "Autohaus Krüger"}),
)


def fill(account: Account) -> None:
    """Emit the events; the worker delivers them as with real ones."""
    for event_type, data in EVENTS:
        emit(account, event_type, data, idempotency_key=f"demo-{event_type}")
