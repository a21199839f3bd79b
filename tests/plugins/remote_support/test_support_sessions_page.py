"""A support session may read "Sitzungen und Anmeldeverlauf" but not end sessions."""

from __future__ import annotations

from core.data.db import bind
from core.data.models import UserSession
from tests.plugins.remote_support.conftest import grant_access, start_session
from tests.support.web import csrf_token

PAGE = "/account/profile/sessions"


def test_support_sees_the_sessions_without_abmelden_and_cannot_end_one(
    app, user_client, owner, staff_client
):
    grant_access(user_client, scope="full")
    assert start_session(staff_client, owner.account_id).status_code == 302
    page = staff_client.get(PAGE)
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Aktive Sitzungen" in text
    assert "Diese Sitzung" not in text and f"{PAGE}/" not in text
    assert "in einer Support-Sitzung nicht" in text
    with app.app_context(), bind(app).connection_context():
        (session,) = UserSession.select().where(UserSession.user == owner.id)
    token = csrf_token(staff_client, PAGE)
    refused = staff_client.post(f"{PAGE}/{session.id}/end", data={"csrf_token": token})
    assert refused.status_code == 403
    assert user_client.get("/account/").status_code == 200
