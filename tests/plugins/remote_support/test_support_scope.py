"""What a support session may write, route by route, and how it ends.

Every write route of the URL map has a decision here: a new route without one
fails ``test_every_write_route_has_a_support_decision``.
"""

from __future__ import annotations

import io
import re

import pytest
from flask import url_for

from core.data.db import bind
from core.data.lifecycle import DataExport
from core.data.models import Account, Invitation, User, UserSession
from plugins.remote_support.models import StaffSession, SupportSession
from tests.conftest import PASSWORD
from tests.plugins.remote_support.conftest import grant_access, start_session
from tests.support.db import owner_state
from tests.support.process import maildir_messages
from tests.support.web import csrf_token, login, submit

NEVER = "refused in every scope"
FULL = "allowed in full scope only"
EXIT = "allowed in every scope; ends the support session"

SUPPORT_WRITE_POLICY = {
    # entry pages would swap the support login for a customer login
    "core.login": NEVER,
    "core.register": NEVER,
    "core.accept_invitation": NEVER,
    # one-time links by mail: a support session uses none of them
    "core.forgot_password": NEVER,
    "core.reset_password": NEVER,
    "core.resend_sign_up": NEVER,
    "core.confirm_sign_up": NEVER,
    "core.confirm_email": NEVER,
    "core.logout": EXIT,
    # Nutzerdaten: the names, yes; credentials and sessions, never
    "core.profile": FULL,
    "core.change_email": NEVER,
    "core.resend_email_change": NEVER,
    "core.cancel_email_change": NEVER,
    "core.change_password": NEVER,
    "core.logout_others": NEVER,
    # the account's data and its existence: export, closing and its undo
    "core.request_export": NEVER,
    "core.close_account": NEVER,
    "core.undo_close_account": NEVER,
    "core.passkey_options": NEVER,
    "core.add_passkey": NEVER,
    "core.rename_passkey": NEVER,
    "core.remove_passkey": NEVER,
    # passwordless sign-in is an entry page too
    "core.passkey_login_options": NEVER,
    "core.passkey_login": NEVER,
    "core.end_user_session": NEVER,
    # two-factor login: its secret, recovery codes, the second sign-in step
    # and the account's rule are credentials
    "two_factor.enable": NEVER,
    "two_factor.regenerate": NEVER,
    "two_factor.disable": NEVER,
    "two_factor.login": NEVER,
    "core.two_factor_passkey_options": NEVER,
    "core.two_factor_passkey": NEVER,
    "two_factor.policy": NEVER,
    # notification e-mail and mobile number
    "core.company": NEVER,
    # users: an invitation is a credential
    "core.users": NEVER,
    "core.remove_user": NEVER,
    "notifications.save": FULL,
    "notifications.send_test": FULL,
    "remote_support.save": NEVER,
    "remote_support.revoke": NEVER,
    "remote_support.staff_login": NEVER,
    "remote_support.start_support": NEVER,
    "remote_support.staff_logout": EXIT,
    "remote_support.end_support": EXIT,
    "subscriptions.billing": NEVER,
    "subscriptions.cancel": NEVER,
    "subscriptions.undo_cancel": NEVER,
    "subscriptions.confirm_change": NEVER,
    "subscriptions.withdraw": NEVER,
    "mail_transport.save": NEVER,
    "mail_transport.connect": NEVER,
    "mail_transport.test_mail": FULL,
}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def _write_routes(app):
    """(endpoint, method, url) of every write route in the URL map."""
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            for method in sorted(rule.methods & WRITE_METHODS):
                values = {arg: 1 if "id" in arg else "x" for arg in rule.arguments}
                yield rule.endpoint, method, url_for(rule.endpoint, **values)


def test_every_write_route_has_a_support_decision(app):
    routes = list(_write_routes(app))
    session_routes = {e for e, _, url in routes if not url.startswith("/api/")}
    assert session_routes == set(SUPPORT_WRITE_POLICY)


@pytest.mark.parametrize("scope", ["read", "full"])
def test_support_writes_follow_the_policy_whatever_the_body(
    app, user_client, roomy_owner, staff_client, scope
):
    owner = roomy_owner
    grant_access(user_client, scope=scope)
    assert start_session(staff_client, owner.account_id).status_code == 302
    token = csrf_token(staff_client, "/account/")
    before = owner_state(app, owner)
    fields = {
        "company_name": "Übernommen GmbH",
        "notification_email": "support@evil.example",
        "mobile_number": "0171 9999999",
        "first_name": "Eve",
        "last_name": "Evil",
        "email": "eve@evil.example",
        "role": "admin",
        "password": "neues-passwort-42",
        "iban": "DE89 3704 0044 0532 0130 00",
        "email-new_email": "eve@evil.example",
        "email-current_password": PASSWORD,
        "email-submit": "1",
        "password-current_password": PASSWORD,
        "password-new_password": "neues-passwort-42",
        "password-confirm": "neues-passwort-42",
        "password-submit": "1",
        "others-submit": "1",
        "export-submit": "1",
        "close-when": "now",
        "close-current_password": PASSWORD,
        "close-submit": "1",
        "undo-submit": "1",
        "submit": "1",
    }

    def bodies():
        """The same fields as a form, as JSON and as multipart file parts."""
        files = {k: (io.BytesIO(v.encode()), "x.txt") for k, v in fields.items()}
        yield "form", {"data": {"csrf_token": token, **fields}}
        yield "json", {"json": fields, "headers": {"X-CSRFToken": token}}
        yield "multipart", {"data": {"csrf_token": token, **files}}

    routes = [r for r in _write_routes(app) if not r[2].startswith("/api/")]
    for endpoint, method, url in routes:
        decision = SUPPORT_WRITE_POLICY[endpoint]
        if decision == EXIT:
            continue  # tested below: they end the session
        for kind, body in bodies():
            response = staff_client.open(url, method=method, **body)
            text = response.get_data(as_text=True)
            where = (endpoint, kind, response.status_code)
            if scope == "read" or decision == NEVER:
                assert response.status_code == 403, where
            else:
                assert response.status_code != 403, where
            if endpoint.startswith("remote_support.") and endpoint != "remote_support.save":
                continue  # staff routes answer with their own message
            if response.status_code == 403:
                expected = {"read": "Support nichts", "full": "Support-Sitzung nicht"}[scope]
                assert expected in text, where
    assert owner_state(app, owner) == before
    assert staff_client.get("/account/").status_code == 200  # the session is still running
    with app.app_context(), bind(app).connection_context():
        assert Invitation.select().count() == 0
        assert DataExport.select().count() == 0
        assert Account.get_by_id(owner.account_id).erase_at is None


def test_service_api_does_not_take_the_support_cookie(app, user_client, owner, staff_client):
    grant_access(user_client)
    start_session(staff_client, owner.account_id)
    for _endpoint, method, url in _write_routes(app):
        if url.startswith("/api/"):
            assert staff_client.open(url, method=method, json={}).status_code == 401, url


def test_support_cannot_let_itself_back_in_through_an_invitation(
    app, user_client, roomy_owner, staff_client
):
    """Invite in full scope, revoke, accept: the invitation never exists."""
    grant_access(user_client, scope="full")
    start_session(staff_client, roomy_owner.account_id)
    response = submit(
        staff_client,
        "/account/users",
        {"first_name": "Eve", "last_name": "Evil", "email": "eve@evil.example", "role": "admin"},
    )
    assert response.status_code == 403
    token = csrf_token(user_client, "/account/support")
    user_client.post("/account/support/revoke", data={"csrf_token": token})
    with app.app_context(), bind(app).connection_context():
        assert User.get_or_none(User.email == "eve@evil.example") is None
        assert Invitation.select().count() == 0
    assert staff_client.get("/account/").status_code == 302


def test_support_json_body_on_nutzerdaten_changes_no_email(app, user_client, owner, staff_client):
    """The e-mail change used to share /account/profile with the name form; a
    JSON body naming its submit button reached the password check."""
    grant_access(user_client, scope="full")
    start_session(staff_client, owner.account_id)
    token = csrf_token(staff_client, "/account/profile")
    body = {
        "email-new_email": "eve@evil.example",
        "email-current_password": PASSWORD,
        "email-submit": "1",
    }
    for url in ("/account/profile", "/account/profile/email"):
        staff_client.post(url, json=body, headers={"X-CSRFToken": token})
    with app.app_context(), bind(app).connection_context():
        assert User.get_by_id(owner.id).email == owner.email


def test_support_cannot_sign_the_owner_out(app, user_client, owner, staff_client):
    second = app.test_client()
    assert login(second, owner.email, PASSWORD).status_code == 302
    grant_access(user_client, scope="full")
    start_session(staff_client, owner.account_id)
    response = submit(
        staff_client,
        "/account/profile/sessions",
        {"submit": "1"},
        prefix="others-",
        page="/account/profile",
    )
    assert response.status_code == 403
    assert user_client.get("/account/").status_code == 200
    assert second.get("/account/").status_code == 200
    with app.app_context(), bind(app).connection_context():
        assert not UserSession.select().where(UserSession.revoked_at.is_null(False)).exists()


def _cookie(client):
    return client.get_cookie("kontor_session").value


def _open_rows(app):
    with app.app_context(), bind(app).connection_context():
        return (
            SupportSession.select().where(SupportSession.ended_at.is_null()).count(),
            StaffSession.select().where(StaffSession.revoked_at.is_null()).count(),
        )


@pytest.mark.parametrize("scope", ["read", "full"])
@pytest.mark.parametrize("path", ["/logout", "/staff/logout"])
def test_logout_ends_support_session_and_staff_login(
    app, user_client, owner, staff_client, scope, path
):
    grant_access(user_client, scope=scope)
    start_session(staff_client, owner.account_id)
    copied = _cookie(staff_client)
    assert _open_rows(app) == (1, 1)
    token = csrf_token(staff_client, "/account/")
    response = staff_client.post(path, data={"csrf_token": token})
    assert response.status_code == 302
    assert _open_rows(app) == (0, 0)
    replay = app.test_client()
    replay.set_cookie("kontor_session", copied)
    assert replay.get("/account/").status_code == 302
    assert replay.get("/staff/").headers["Location"] == "/staff/login"
    assert staff_client.get("/staff/").headers["Location"] == "/staff/login"
    assert user_client.get("/account/").status_code == 200  # the owner stays logged in


def test_support_session_needs_the_staff_login_it_was_started_from(
    app, user_client, owner, staff_client
):
    grant_access(user_client)
    start_session(staff_client, owner.account_id)
    with app.app_context(), bind(app).connection_context():
        StaffSession.update(revoked_at=StaffSession.expires_at).execute()
    assert staff_client.get("/account/").status_code == 302


def test_end_support_keeps_the_staff_login(app, user_client, owner, staff_client):
    grant_access(user_client, scope="read")
    start_session(staff_client, owner.account_id)
    token = csrf_token(staff_client, "/account/")
    assert staff_client.post("/support/end", data={"csrf_token": token}).status_code == 302
    assert _open_rows(app) == (0, 1)
    assert staff_client.get("/staff/").status_code == 200


def test_support_cannot_download_the_owners_export(app, user_client, owner, staff_client):
    """Even with the mailed link, a support session gets the page for a dead
    link, and the link still works for the owner."""
    grant_access(user_client, scope="full")
    submit(user_client, "/account/profile/export", {}, prefix="export-", page="/account/profile")
    [mail] = [m for m in maildir_messages(app) if m["Subject"] == "Ihr Datenexport ist bereit"]
    path = re.search(r"/account/export/[\w-]+", mail.get_payload(decode=True).decode()).group(0)
    assert start_session(staff_client, owner.account_id).status_code == 302
    refused = staff_client.get(path)
    assert refused.status_code == 404 and "ungültig oder abgelaufen" in refused.get_data(
        as_text=True
    )
    assert "Daten exportieren" not in staff_client.get("/account/profile").get_data(as_text=True)
    assert user_client.get(path).status_code == 200


@pytest.mark.parametrize("scope", ["read", "full"])
def test_support_cannot_cancel_the_contract_or_undo_it(
    app, user_client, owner, staff_client, scope
):
    """A complete, valid cancellation from a support session is refused, as is the undo."""
    from plugins.subscriptions.models import Subscription

    grant_access(user_client, scope=scope)
    start_session(staff_client, owner.account_id)
    token = csrf_token(staff_client, "/account/subscription/cancel")
    declaration = {
        "name": "Erika Mustermann",
        "email": owner.email,
        "kind": "ordinary",
        "end": "next",
        "confirm_to": "support@evil.example",
        "submit": "1",
    }
    for url in ("/account/subscription/cancel", "/account/subscription/cancel/undo"):
        response = staff_client.post(url, data={"csrf_token": token, **declaration})
        assert response.status_code == 403, url
    with app.app_context(), bind(app).connection_context():
        assert not Subscription.get(Subscription.account == owner.account_id).cancel_at_period_end


@pytest.mark.parametrize("scope", ["read", "full"])
def test_support_sees_no_two_factor_key_and_no_form(app, user_client, owner, staff_client, scope):
    from core.security.twofactor import TwoFactor

    grant_access(user_client, scope=scope)
    start_session(staff_client, owner.account_id)
    page = staff_client.get("/account/profile/two-factor").get_data(as_text=True)
    assert "Ausgeschaltet" in page
    assert 'class="qr"' not in page and 'class="secret"' not in page
    assert "enable-code" not in page
    with app.app_context(), bind(app).connection_context():
        assert TwoFactor.select().count() == 0  # no key was made for support to see
    policy = staff_client.get("/account/users/two-factor").get_data(as_text=True)
    assert '<fieldset class="locked" disabled>' in policy


def test_support_is_not_led_to_two_factor_set_up(app, user_client, owner, staff_client):
    from core.data.models import Account

    grant_access(user_client, scope="read")
    with app.app_context(), bind(app).connection_context():
        Account.update(two_factor_required=True).where(Account.id == owner.account_id).execute()
    # the owner, without two-factor login, is led to its set-up; support is not
    assert user_client.get("/account/").headers["Location"] == "/account/profile/two-factor"
    start_session(staff_client, owner.account_id)
    assert staff_client.get("/account/").status_code == 200
