"""Demo data: one finished support visit in the access log."""

from __future__ import annotations

import secrets

from core import Account, User
from plugins.remote_support import services
from plugins.remote_support.models import Staff

DEMO_STAFF = "sabine.support@kontor.example"


def fill(account: Account, owner: User) -> None:
    """Grant, a support session with a reason, and the owner's revocation."""
    staff = Staff.get_or_none(Staff.email == DEMO_STAFF)
    if staff is None:  # nobody can log in with it: the password is thrown away
        staff, _uri = services.create_staff(DEMO_STAFF, "Sabine Support", secrets.token_urlsafe(24))
    services.grant(account, owner, "24h", "read")
    services.start_support(staff, account.id, "Frage zur Rechnungsvorlage")
    services.revoke(account, owner)
