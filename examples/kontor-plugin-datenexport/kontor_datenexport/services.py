"""The export document, gathered from every plugin's ``kontor_account_export``."""

from __future__ import annotations

from typing import Any

from core.db import utcnow


def export_document(pm: Any, account: Any) -> dict[str, Any]:
    """Every plugin's share of ``account``'s data, keyed by the part's key."""
    parts = [p for p in pm.hook.kontor_account_export(account=account) if p is not None]
    return {
        "account_id": account.id,
        "exported_at": utcnow().isoformat() + "Z",
        "parts": {part.key: part.data for part in sorted(parts, key=lambda p: p.key)},
    }
