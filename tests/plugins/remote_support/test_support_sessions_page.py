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


def test_support_pages_say_who_is_acting_and_offer_one_way_out(
    app, user_client, owner, staff_client
):
    """The profile names the staff member and the user, the session list
    claims no session for support, and "Sitzung beenden" is the only way out."""
    own_profile = user_client.get("/account/profile").get_data(as_text=True)
    assert "Angemeldet als" in own_profile and 'action="/logout"' in own_profile
    assert "Hier sind Sie gerade angemeldet." in user_client.get(PAGE).get_data(as_text=True)
    grant_access(user_client, scope="read")
    assert start_session(staff_client, owner.account_id).status_code == 302
    profile = staff_client.get("/account/profile").get_data(as_text=True)
    assert "Angemeldet als" not in profile
    with app.app_context(), bind(app).connection_context():
        user = UserSession.select().where(UserSession.user == owner.id).get().user
        expected = f"Support-Sitzung von Susi Support für {user.full_name} ({user.email})"
    assert expected in profile
    sessions = staff_client.get(PAGE).get_data(as_text=True)
    assert "Hier sind Sie gerade angemeldet" not in sessions
    assert f"Hier ist {user.full_name} gerade angemeldet" in sessions
    assert 'action="/logout"' not in profile and 'action="/support/end"' in profile
