"""A passkey as the second factor: after the password, "Mit Passkey bestätigen"
on /login/two-factor (only the waiting user's passkeys count); a passkey
satisfies the account's "Zwei-Faktor-Anmeldung verlangen", shows in the
users table, the profile and the service API, and the last one is kept while
it is the second factor the account requires.

Credentials come from Chromium's virtual authenticator, checked in process on
both databases; the last test walks the sign-in in the browser.
"""

from __future__ import annotations

import json
import re

import pytest

from core.data.db import bind
from core.data.models import Account, Passkey, PasskeyChallenge
from tests.conftest import PASSWORD, require_binary
from tests.support.browser import ARGS, CHROMIUM, log_in, serve
from tests.support.web import AUTH, csrf_token, login, submit
from tests.support.webauthn import add_authenticator, localhost_authenticator
from tests.test_two_factor import SETTINGS, _second_step, _turned_on

PASSKEYS = "/account/profile/passkeys"
SECOND_STEP = "/login/two-factor"
POLICY = "/account/users/two-factor"
DATA_CSRF = re.compile(r'data-csrf="([^"]+)"')


@pytest.fixture
def authenticator():
    require_binary(CHROMIUM)
    with localhost_authenticator() as made:
        yield made


def _db(app):
    return bind(app).connection_context()


def _post(client, url, body=None, page=None):
    """POST JSON as passkeys.js does, with the token the page gives its script."""
    if page is None:
        token = DATA_CSRF.search(client.get(SECOND_STEP).get_data(as_text=True)).group(1)
    else:
        token = csrf_token(client, page)
    return client.post(url, json=body if body is not None else {}, headers={"X-CSRFToken": token})


def _add_passkey(client, authenticator, name="Laptop"):
    body = {"name": name, "current_password": PASSWORD}
    options = _post(client, f"{PASSKEYS}/options", body, page=PASSKEYS)
    assert options.status_code == 200, options.get_data(as_text=True)
    credential = authenticator.create(options.get_data(as_text=True))
    added = _post(client, f"{PASSKEYS}/add", {"credential": credential}, page=PASSKEYS)
    assert added.status_code == 200, added.get_data(as_text=True)
    return credential


def _waiting(app, email):
    """A client whose password was right and whose second factor is awaited."""
    client = app.test_client()
    response = login(client, email, PASSWORD)
    assert response.status_code == 302 and response.location.endswith(SECOND_STEP)
    return client


def _options(client):
    response = _post(client, f"{SECOND_STEP}/passkey/options")
    assert response.status_code == 200, response.get_data(as_text=True)
    return json.loads(response.get_data(as_text=True))


def _confirm(client, assertion):
    return _post(client, f"{SECOND_STEP}/passkey", {"credential": assertion})


def _require(client):
    return submit(client, POLICY, {"required": "y"})


def _passkey_ids(app, user_id):
    with app.app_context(), _db(app):
        return [p.id for p in Passkey.select().where(Passkey.user == user_id)]


def test_password_then_passkey_signs_in(app, user_client, owner, authenticator):
    credential = _add_passkey(user_client, authenticator)
    client = _waiting(app, owner.email)
    assert client.get("/account/").status_code == 302  # not signed in yet
    page = client.get(SECOND_STEP).get_data(as_text=True)
    assert "Mit Passkey bestätigen" in page
    assert 'name="code"' not in page  # no authenticator app: no code field

    options = _options(client)
    assert [c["id"] for c in options["allowCredentials"]] == [credential["id"]]
    assert options["userVerification"] == "preferred"
    assertion = authenticator.get(json.dumps(options))
    response = _confirm(client, assertion)
    assert response.status_code == 200 and response.json == {"redirect": "/account/"}
    assert client.get("/account/").status_code == 200
    with app.app_context(), _db(app):
        assert Passkey.get(Passkey.user == owner.id).last_used_at is not None
        assert PasskeyChallenge.select().count() == 0

    # The same signed answer does not confirm another waiting login.
    again = _waiting(app, owner.email)
    _options(again)
    refused = _confirm(again, assertion)
    assert refused.status_code == 422 and again.get("/account/").status_code == 302


def test_a_passkey_of_another_user_is_refused(app, user_client, owner, make_owner, authenticator):
    theirs = _add_passkey(user_client, authenticator, "Erikas Laptop")
    stranger = make_owner("fremd@example.com", company="Fremd GmbH")
    stranger_client = app.test_client()
    login(stranger_client, stranger.email, PASSWORD)
    _add_passkey(stranger_client, authenticator, "Fremdes Telefon")

    client = _waiting(app, stranger.email)
    options = _options(client)
    assert theirs["id"] not in {c["id"] for c in options["allowCredentials"]}
    # The owner's passkey signs the stranger's challenge: a valid signature,
    # but not of the user whose password was given.
    options["allowCredentials"] = [{"type": "public-key", "id": theirs["id"]}]
    forged = authenticator.get(json.dumps(options))
    response = _confirm(client, forged)
    assert response.status_code == 422
    assert response.json["error"]["message"] == "Dieser Passkey gehört nicht zu Ihrem Benutzer."
    assert client.get("/account/").status_code == 302
    # The challenge was used up by that answer.
    assert _confirm(client, forged).status_code == 422

    # A passwordless sign-in answer is no second factor either.
    options = _post(client, "/login/passkey/options", page="/login")
    answer = authenticator.get(options.get_data(as_text=True))
    assert _confirm(client, answer).status_code == 422
    assert client.get("/account/").status_code == 302


def test_without_a_waiting_login_the_passkey_step_is_refused(app, owner):
    client = app.test_client()
    token = csrf_token(client, "/login")
    for step in ("passkey/options", "passkey"):
        response = client.post(
            f"{SECOND_STEP}/{step}", json={"credential": {}}, headers={"X-CSRFToken": token}
        )
        assert response.status_code == 401 and response.is_json, step


def test_with_totp_and_a_passkey_both_are_offered(app, user_client, owner, authenticator):
    authenticator_app, _codes = _turned_on(user_client)
    _add_passkey(user_client, authenticator)
    client = _waiting(app, owner.email)
    page = client.get(SECOND_STEP).get_data(as_text=True)
    assert "Mit Passkey bestätigen" in page and 'name="code"' in page
    assert _second_step(client, authenticator_app.code(1)).status_code == 302
    assert client.get("/account/").status_code == 200
    profile = user_client.get("/account/profile").get_data(as_text=True)
    assert "an (Authenticator-App und Passkey)" in profile


def test_a_passkey_satisfies_the_accounts_rule(
    app, user_client, member_client, roomy_owner, authenticator
):
    _add_passkey(user_client, authenticator)
    assert _require(user_client).status_code == 302
    assert user_client.get("/account/").status_code == 200  # not led to TOTP set-up
    page = user_client.get(POLICY).get_data(as_text=True)
    assert re.search(r'<span class="badge badge-ok">an \(Passkey\)</span></td>', page)
    assert re.search(r'<span class="badge badge-off">aus</span></td>', page)
    profile = user_client.get("/account/profile").get_data(as_text=True)
    assert "an (Passkey)" in profile
    overview = user_client.get("/account/").get_data(as_text=True)
    assert "<li>Zwei-Faktor-Anmeldung: an (Passkey)</li>" in overview

    # A member without either is led to set-up, where a passkey is offered too.
    led = member_client.get("/account/")
    assert led.status_code == 302 and led.location.endswith(SETTINGS)
    assert 'href="/account/profile/passkeys"' in member_client.get(SETTINGS).get_data(as_text=True)
    assert member_client.get(PASSKEYS).status_code == 200
    _add_passkey(member_client, authenticator, "Mias Telefon")
    assert member_client.get("/account/").status_code == 200


def test_security_api_counts_passkeys(app, user_client, roomy_owner, member_client, authenticator):
    _add_passkey(user_client, authenticator)
    _turned_on(member_client)
    _add_passkey(member_client, authenticator, "Mias Telefon")
    response = app.test_client().get(
        f"/api/v1/accounts/{roomy_owner.account_id}/security", headers=AUTH
    )
    assert response.status_code == 200
    by_email = {u["email"]: u for u in response.json["users"]}
    owner_row, member_row = by_email["erika@example.com"], by_email["mia@example.com"]
    assert (owner_row["two_factor"], owner_row["totp"], owner_row["passkeys"]) == (True, False, 1)
    assert (member_row["two_factor"], member_row["totp"], member_row["passkeys"]) == (True, True, 1)


def test_the_last_passkey_stays_while_it_is_the_required_second_factor(
    app, user_client, owner, authenticator
):
    _add_passkey(user_client, authenticator)
    assert _require(user_client).status_code == 302
    (passkey_id,) = _passkey_ids(app, owner.id)
    token = csrf_token(user_client, PASSKEYS)
    refused = user_client.post(f"{PASSKEYS}/{passkey_id}/remove", data={"csrf_token": token})
    assert refused.status_code == 422
    assert "bevor Sie Ihren letzten Passkey entfernen" in refused.get_data(as_text=True)
    assert _passkey_ids(app, owner.id) == [passkey_id]

    # With the authenticator app on as well, it may go.
    _turned_on(user_client)
    removed = user_client.post(f"{PASSKEYS}/{passkey_id}/remove", data={"csrf_token": token})
    assert removed.status_code == 302 and _passkey_ids(app, owner.id) == []
    with app.app_context(), _db(app):
        assert Account.get_by_id(owner.account_id).two_factor_required


def test_the_app_may_be_turned_off_while_a_passkey_stands_in(
    app, user_client, owner, authenticator
):
    authenticator_app, _codes = _turned_on(user_client)
    assert _require(user_client).status_code == 302
    assert "sie bleibt eingeschaltet" in user_client.get(SETTINGS).get_data(as_text=True)
    _add_passkey(user_client, authenticator)
    response = submit(
        user_client,
        f"{SETTINGS}/disable",
        {"code": authenticator_app.code(1), "current_password": PASSWORD},
        prefix="disable-",
        page=SETTINGS,
    )
    assert response.status_code == 302
    assert user_client.get("/account/").status_code == 200  # the passkey satisfies the rule
    assert "an (Passkey)" in user_client.get("/account/profile").get_data(as_text=True)


def test_in_chromium_password_then_passkey(tmp_path, database_url, make_app, smtp_server):
    """The shipped passkeys.js on the second step, by visible labels."""
    require_binary(CHROMIUM)
    from playwright.sync_api import expect, sync_playwright

    from tests.support.browser import sign_up

    make_app()  # on PostgreSQL its teardown empties the shared test database
    with (
        serve(tmp_path, database_url, smtp_server.config(), host="localhost") as live,
        sync_playwright() as p,
    ):
        live.mails = lambda: list(smtp_server.inbox.messages)
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_context(locale="de-DE").new_page()
        add_authenticator(page)
        sign_up(page, live, "zora@example.com", "zora-passwort-123", "Zweitfaktor GmbH")
        page.goto(f"{live.url}{PASSKEYS}")
        page.get_by_label("Name des Passkeys").fill("Laptop")
        page.get_by_label("Aktuelles Passwort").fill("zora-passwort-123")
        page.get_by_role("button", name="Passkey hinzufügen").click()
        expect(page.get_by_text("Der Passkey „Laptop“ wurde hinzugefügt.")).to_be_visible()

        page.get_by_role("button", name="Abmelden").click()
        log_in(page, "zora@example.com", "zora-passwort-123")
        expect(page.get_by_role("heading", name="Zwei-Faktor-Anmeldung")).to_be_visible()
        expect(page.get_by_label("Code")).to_have_count(0)
        page.get_by_role("button", name="Mit Passkey bestätigen").click()
        expect(page.get_by_role("heading", name="Mein Konto")).to_be_visible()
        page.goto(f"{live.url}/account/profile")
        security = page.get_by_role("region", name="Anmeldung und Sicherheit")
        expect(security).to_contain_text("an (Passkey)")
        browser.close()


def test_a_passkey_only_user_lifts_the_rule_with_the_password(
    app, user_client, owner, authenticator
):
    """Without the app there is no code to give: the password confirms, and
    the page says why no code is asked for."""
    _add_passkey(user_client, authenticator)
    assert _require(user_client).status_code == 302
    page = user_client.get(POLICY).get_data(as_text=True)
    assert "Sie nutzen einen Passkey statt der Authenticator-App" in page
    assert 'for="code"' not in page and 'for="current_password"' in page
    wrong = submit(user_client, POLICY, {"current_password": "falsches-passwort"})
    assert wrong.status_code == 422
    assert "Das aktuelle Passwort ist falsch." in wrong.get_data(as_text=True)
    with app.app_context(), _db(app):
        assert Account.get_by_id(owner.account_id).two_factor_required
    assert submit(user_client, POLICY, {"current_password": PASSWORD}).status_code == 302
    with app.app_context(), _db(app):
        assert not Account.get_by_id(owner.account_id).two_factor_required
