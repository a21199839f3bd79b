from __future__ import annotations

import pyotp
import pytest

from core.data.db import bind
from plugins.remote_support.services import create_staff
from tests.support.web import csrf_token, submit

STAFF_PASSWORD = "support-passwort-123"


@pytest.fixture
def staff(app):
    with app.app_context(), bind(app).connection_context():
        member, uri = create_staff("susi@kontor.example", "Susi Support", STAFF_PASSWORD)
    member.totp = pyotp.parse_uri(uri)
    return member


@pytest.fixture
def staff_client(app, staff):
    client = app.test_client()
    response = submit(
        client,
        "/staff/login",
        {"email": staff.email, "password": STAFF_PASSWORD, "code": staff.totp.now()},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def grant_access(client, duration="7d", scope="full"):
    return submit(
        client, "/account/support", {"granted": "y", "duration": duration, "scope": scope}
    )


def start_session(client, account_id, reason="Ticket 4711"):
    """Press "Sitzung starten" in the staff console."""
    token = csrf_token(client, "/staff/")
    return client.post(
        "/staff/sessions",
        data={"csrf_token": token, "account_id": str(account_id), "reason": reason},
    )
