"""Passkeys: adding, naming and removing them under Nutzerdaten → Passkeys,
and "Mit Passkey anmelden" without a password.

Credentials come from Chromium's virtual authenticator (real attestation and
signatures, checked by the ``webauthn`` library in the app); the app runs in
process on both databases. The last test walks it all in the browser against
the served app on http://localhost.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from email.header import decode_header, make_header

import pytest

from core.cli import apply_migrations
from core.data.db import bind, utcnow
from core.data.models import Passkey, PasskeyChallenge, UserSession
from tests.conftest import PASSWORD, require_binary
from tests.support.browser import (
    ARGS,
    CHROMIUM,
    WIDTHS,
    log_in,
    screenshot,
    serve,
    set_width,
)
from tests.support.process import body_text, maildir_messages, wait_until
from tests.support.web import csrf_token, login
from tests.support.webauthn import add_authenticator, localhost_authenticator, stored_credentials

PAGE = "/account/profile/passkeys"


@pytest.fixture
def authenticator():
    require_binary(CHROMIUM)
    with localhost_authenticator() as made:
        yield made


def _db(app):
    return bind(app).connection_context()


def _post(client, url, body=None, page=PAGE):
    token = csrf_token(client, page)
    return client.post(url, json=body if body is not None else {}, headers={"X-CSRFToken": token})


def _options(client, name="Laptop", password=PASSWORD):
    return _post(client, f"{PAGE}/options", {"name": name, "current_password": password})


def _add(client, authenticator, name="Laptop"):
    options = _options(client, name)
    assert options.status_code == 200, options.get_data(as_text=True)
    credential = authenticator.create(options.get_data(as_text=True))
    return _post(client, f"{PAGE}/add", {"credential": credential})


def _assertion(client, authenticator):
    """Ask for a sign-in challenge as the login page does; sign it."""
    options = _post(client, "/login/passkey/options", page="/login")
    assert options.status_code == 200, options.get_data(as_text=True)
    return authenticator.get(options.get_data(as_text=True))


def _sign_in(client, authenticator, **extra):
    assertion = _assertion(client, authenticator)
    return _post(client, "/login/passkey", {"credential": assertion, **extra}, page="/login")


def _subjects(app, to):
    return [
        str(make_header(decode_header(m["Subject"])))
        for m in maildir_messages(app)
        if m["To"] == to
    ]


def _passkeys(app):
    with app.app_context(), _db(app):
        return list(Passkey.select().order_by(Passkey.id).dicts())


def test_a_passkey_from_chromium_is_stored_and_signs_in_without_password(
    app, user_client, owner, authenticator
):
    response = _add(user_client, authenticator, "Laptop")
    assert response.status_code == 200 and response.json == {"redirect": PAGE}
    (stored,) = _passkeys(app)
    assert stored["user"] == owner.id and stored["name"] == "Laptop"
    assert stored["last_used_at"] is None and "internal" in stored["transports"].split(",")
    # A discoverable credential, named by the user's row id, not their address.
    (resident,) = authenticator.credentials()
    assert resident["isResidentCredential"] and resident["rpId"] == "localhost"
    assert base64.b64decode(resident["userHandle"]) == str(owner.id).encode()
    page = user_client.get(PAGE).get_data(as_text=True)
    assert "Der Passkey „Laptop“ wurde hinzugefügt." in page and "Noch nicht zur Anmeldung" in page
    assert ">1 eingerichtet<" in user_client.get("/account/profile").get_data(as_text=True)
    assert "Passkey hinzugefügt" in _subjects(app, owner.email)

    browser = app.test_client()
    response = _sign_in(browser, authenticator, next="/account/company")
    assert response.status_code == 200 and response.json == {"redirect": "/account/company"}
    assert browser.get("/account/company").status_code == 200
    (used,) = _passkeys(app)
    assert used["last_used_at"] is not None
    with app.app_context(), _db(app):
        assert UserSession.select().where(UserSession.user == owner.id).count() == 2
    # An outside "next" is not followed.
    other = app.test_client()
    assert _sign_in(other, authenticator, next="//evil.example/").json == {"redirect": "/account/"}


def test_an_existing_install_gets_the_passkey_tables(make_app, owner):
    app = make_app()
    db = bind(app)
    with app.app_context(), db.connection_context():
        db.drop_tables([PasskeyChallenge, Passkey])
        db.execute_sql("DELETE FROM core_migrations WHERE id = '0008_passkeys'")
    assert apply_migrations(app) == ["core:0008_passkeys"]
    with app.app_context(), db.connection_context():
        assert {"core_passkey", "core_passkey_challenge"} <= set(db.get_tables())
        assert Passkey.select().count() == 0


def test_adding_asks_for_the_password_and_a_name(app, user_client, owner):
    wrong = _options(user_client, password="falsch-falsch-falsch")
    assert wrong.status_code == 422
    assert wrong.json["error"]["fields"] == {
        "current_password": "Das aktuelle Passwort ist falsch."
    }
    nameless = _options(user_client, name="   ")
    assert nameless.status_code == 422
    assert nameless.json["error"]["fields"] == {"name": "Dieses Feld ist erforderlich."}
    with app.app_context(), _db(app):
        assert PasskeyChallenge.select().count() == 0
    assert _passkeys(app) == []


def test_the_add_form_offers_a_name_from_the_browser(user_client):
    chrome_on_windows = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
    )
    page = user_client.get(PAGE, headers={"User-Agent": chrome_on_windows})
    assert 'value="Chrome auf Windows"' in page.get_data(as_text=True)


def test_a_registration_answer_to_another_challenge_is_refused(app, user_client, authenticator):
    first = _options(user_client)
    credential = authenticator.create(first.get_data(as_text=True))
    assert _options(user_client).status_code == 200  # the session now waits for another answer
    response = _post(user_client, f"{PAGE}/add", {"credential": credential})
    assert response.status_code == 422 and "nicht geprüft" in response.json["error"]["message"]
    assert _passkeys(app) == []


def test_sign_in_answers_work_once_and_only_for_their_challenge(app, owner, authenticator):
    client = app.test_client()
    login(client, owner.email, PASSWORD)
    assert _add(client, authenticator).status_code == 200

    # Replayed: the same signed answer again, with a fresh challenge pending.
    browser = app.test_client()
    assertion = _assertion(browser, authenticator)
    cookie = browser.get_cookie("kontor_session").value
    assert _post(browser, "/login/passkey", {"credential": assertion}, "/login").status_code == 200
    again = app.test_client()
    _post(again, "/login/passkey/options", page="/login")
    refused = _post(again, "/login/passkey", {"credential": assertion}, "/login")
    assert refused.status_code == 422
    # Replayed with the cookie that held its challenge: the challenge is used up.
    stale = app.test_client()
    stale.set_cookie("kontor_session", cookie, domain="localhost")
    token = csrf_token(stale, "/login")
    replay = stale.post(
        "/login/passkey", json={"credential": assertion}, headers={"X-CSRFToken": token}
    )
    assert replay.status_code in (400, 422) and replay.is_json
    assert stale.get("/account/").status_code == 302

    # Tampered: the answer rewritten to name the challenge this browser was given.
    tamper = app.test_client()
    signed = _assertion(tamper, authenticator)
    wanted = tamper.post(
        "/login/passkey/options", headers={"X-CSRFToken": csrf_token(tamper, "/login")}
    )
    data = json.loads(base64.urlsafe_b64decode(signed["response"]["clientDataJSON"] + "=="))
    data["challenge"] = wanted.json["challenge"]
    signed["response"]["clientDataJSON"] = (
        base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    )
    forged = _post(tamper, "/login/passkey", {"credential": signed}, "/login")
    assert forged.status_code == 422
    assert tamper.get("/account/").status_code == 302

    # Expired: older than its five minutes.
    late = app.test_client()
    assertion = _assertion(late, authenticator)
    with app.app_context(), _db(app):
        PasskeyChallenge.update(expires_at=utcnow() - dt.timedelta(seconds=1)).execute()
    expired = _post(late, "/login/passkey", {"credential": assertion}, "/login")
    assert expired.status_code == 422 and "abgelaufen" in expired.json["error"]["message"]
    assert late.get("/account/").status_code == 302


def test_passkeys_of_other_users_are_out_of_reach(app, user_client, make_owner, authenticator):
    assert _add(user_client, authenticator, "Erikas Laptop").status_code == 200
    (theirs,) = _passkeys(app)
    stranger = make_owner("fremd@example.com", company="Fremd GmbH")
    client = app.test_client()
    login(client, stranger.email, PASSWORD)
    assert "Erikas Laptop" not in client.get(PAGE).get_data(as_text=True)
    token = csrf_token(client, PAGE)
    rename = client.post(
        f"{PAGE}/{theirs['id']}/rename",
        data={"csrf_token": token, f"passkey-{theirs['id']}-name": "Gekapert"},
    )
    remove = client.post(f"{PAGE}/{theirs['id']}/remove", data={"csrf_token": token})
    assert rename.status_code == 404 and remove.status_code == 404
    assert _passkeys(app) == [theirs]


def test_rename_and_remove_with_a_notice(app, user_client, owner, authenticator):
    assert _add(user_client, authenticator, "Laptop").status_code == 200
    (passkey,) = _passkeys(app)
    field = f"passkey-{passkey['id']}-name"
    token = csrf_token(user_client, PAGE)
    url = f"{PAGE}/{passkey['id']}"
    empty = user_client.post(f"{url}/rename", data={"csrf_token": token, field: " "})
    assert empty.status_code == 422
    assert "Dieses Feld ist erforderlich." in empty.get_data(as_text=True)
    renamed = user_client.post(
        f"{url}/rename", data={"csrf_token": token, field: "Arbeitsrechner"}, follow_redirects=True
    )
    assert "Der Passkey wurde umbenannt." in renamed.get_data(as_text=True)
    assert _passkeys(app)[0]["name"] == "Arbeitsrechner"

    removed = user_client.post(f"{url}/remove", data={"csrf_token": token}, follow_redirects=True)
    assert "Der Passkey „Arbeitsrechner“ wurde entfernt." in removed.get_data(as_text=True)
    assert _passkeys(app) == []
    assert "Passkey entfernt" in _subjects(app, owner.email)
    (notice,) = [body_text(m) for m in maildir_messages(app) if "entfernt" in body_text(m)]
    assert "„Arbeitsrechner“" in notice and "Zeitpunkt:" in notice
    # The password still signs in, and the removed passkey no longer does.
    assert login(app.test_client(), owner.email, PASSWORD).status_code == 302
    refused = _sign_in(app.test_client(), authenticator)
    assert (
        refused.status_code == 422 and "nicht (mehr) hinterlegt" in refused.json["error"]["message"]
    )


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {"credential": "x"},
        {"credential": {}},
        {"credential": {"id": "a", "rawId": "!!", "type": "public-key", "response": {}}},
        {
            "credential": {
                "id": "AA",
                "rawId": "AA",
                "type": "public-key",
                "response": {
                    "clientDataJSON": "bm90LWpzb24",
                    "attestationObject": "oA",
                    "authenticatorData": "AA",
                    "signature": "AA",
                    "userHandle": 7,
                },
            }
        },
    ],
)
def test_bad_ceremony_bodies_get_json_errors(app, user_client, body):
    for url, page in (
        (f"{PAGE}/add", PAGE),
        ("/login/passkey", "/login"),
    ):
        client = user_client if url.startswith(PAGE) else app.test_client()
        issued = f"{PAGE}/options" if url.startswith(PAGE) else "/login/passkey/options"
        token = csrf_token(client, page)
        headers = {"X-CSRFToken": token}
        if issued.startswith(PAGE):
            client.post(issued, json={"name": "X", "current_password": PASSWORD}, headers=headers)
        else:
            client.post(issued, headers=headers)
        if body is None:
            response = client.post(url, data="kein json", headers=headers)
        else:
            response = client.post(url, json=body, headers=headers)
        assert 400 <= response.status_code < 500 and response.is_json, (url, response.status_code)
        assert "message" in response.json["error"]
    # The first step of adding takes the same bodies where it wants name and password.
    token = csrf_token(user_client, PAGE)
    if body is None:
        response = user_client.post(
            f"{PAGE}/options", data="kein json", headers={"X-CSRFToken": token}
        )
    else:
        response = user_client.post(f"{PAGE}/options", json=body, headers={"X-CSRFToken": token})
    assert 400 <= response.status_code < 500 and response.is_json, response.status_code
    assert _passkeys(app) == []


def test_adding_after_the_session_ended_gets_a_json_401(app):
    client = app.test_client()
    token = csrf_token(client, "/login")
    for step in ("options", "add"):
        response = client.post(f"{PAGE}/{step}", json={}, headers={"X-CSRFToken": token})
        assert response.status_code == 401 and response.json["error"]["message"], step


def test_ceremony_routes_need_the_csrf_header(app, user_client):
    for client, url in (
        (user_client, f"{PAGE}/options"),
        (user_client, f"{PAGE}/add"),
        (app.test_client(), "/login/passkey/options"),
        (app.test_client(), "/login/passkey"),
    ):
        response = client.post(url, json={"name": "X", "current_password": PASSWORD})
        assert response.status_code == 400 and response.is_json, url
    with app.app_context(), _db(app):
        assert PasskeyChallenge.select().count() == 0


def test_passkey_sign_in_is_rate_limited(make_app):
    app = make_app({"KONTOR_LOGIN_LIMIT": "2 per minute"})
    client = app.test_client()
    token = csrf_token(client, "/login")
    answers = [
        client.post("/login/passkey", json={"credential": {}}, headers={"X-CSRFToken": token})
        for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [422, 422, 429]
    assert answers[-1].is_json and answers[-1].headers["Retry-After"]


def test_in_chromium_add_a_passkey_sign_in_with_it_rename_and_remove(
    tmp_path, database_url, make_app, smtp_server
):
    """The shipped passkeys.js on the served app, by visible labels
    (KONTOR_UPDATE_SCREENSHOTS=1 refreshes the page's screenshots)."""
    require_binary(CHROMIUM)
    from playwright.sync_api import expect, sync_playwright

    make_app()  # on PostgreSQL its teardown empties the shared test database
    with (
        serve(tmp_path, database_url, smtp_server.config(), host="localhost") as live,
        sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_context(locale="de-DE").new_page()
        cdp, authenticator_id = add_authenticator(page)
        live.mails = lambda: list(smtp_server.inbox.messages)

        page.goto(f"{live.url}/register")
        for label, value in (
            ("Firmenname", "Passkey GmbH"),
            ("Vorname", "Pia"),
            ("Nachname", "Schlüssel"),
            ("E-Mail-Adresse", "pia@example.com"),
            ("Passwort", "pia-passwort-123"),
        ):
            page.get_by_label(label).fill(value)
        page.get_by_role("button", name="Registrieren").click()
        page.goto(live.link("pia@example.com", "register/confirm"))
        page.get_by_role("button", name="Konto aktivieren").click()
        expect(page.get_by_role("heading", name="Mein Konto")).to_be_visible()

        page.goto(f"{live.url}/account/profile")
        security = page.get_by_role("region", name="Anmeldung und Sicherheit")
        expect(security.get_by_role("listitem").filter(has_text="Passkeys")).to_have_text(
            "Passkeys keine"
        )
        security.get_by_role("link", name="Passkeys").click()
        expect(page.get_by_role("heading", name="Passkeys", exact=True)).to_be_visible()
        nav = page.get_by_role("navigation", name="Mein Konto")
        expect(nav.locator("[aria-current=page]")).to_have_text("Nutzerdaten")
        expect(page.get_by_label("Name des Passkeys")).to_have_value("HeadlessChrome auf Linux")
        page.get_by_label("Aktuelles Passwort").fill("falsches-passwort")
        page.get_by_role("button", name="Passkey hinzufügen").click()
        expect(page.get_by_text("Das aktuelle Passwort ist falsch.")).to_be_visible()
        page.get_by_label("Name des Passkeys").fill("Mein Laptop")
        page.get_by_label("Aktuelles Passwort").fill("pia-passwort-123")
        page.get_by_role("button", name="Passkey hinzufügen").click()
        expect(page.get_by_text("Der Passkey „Mein Laptop“ wurde hinzugefügt.")).to_be_visible()
        card = page.get_by_role("region", name="Mein Laptop")
        expect(card).to_contain_text("Noch nicht zur Anmeldung verwendet")
        assert len(stored_credentials(cdp, authenticator_id)) == 1
        for width_name, width in WIDTHS.items():
            set_width(page, width)
            screenshot(page, f"passkeys-{width_name}")
        set_width(page, WIDTHS["desktop"])

        page.get_by_role("button", name="Abmelden").click()
        page.get_by_role("button", name="Mit Passkey anmelden").click()
        expect(page.get_by_role("heading", name="Mein Konto")).to_be_visible()

        page.goto(f"{live.url}{PAGE}")
        card = page.get_by_role("region", name="Mein Laptop")
        expect(card).to_contain_text("Zuletzt verwendet am")
        card.get_by_label("Name des Passkeys").fill("Arbeitslaptop")
        card.get_by_role("button", name="Umbenennen").click()
        expect(page.get_by_text("Der Passkey wurde umbenannt.")).to_be_visible()
        card = page.get_by_role("region", name="Arbeitslaptop")
        card.get_by_role("button", name="Entfernen").click()
        expect(page.get_by_text("Der Passkey „Arbeitslaptop“ wurde entfernt.")).to_be_visible()
        expect(page.get_by_text("Sie haben noch keinen Passkey hinterlegt.")).to_be_visible()

        # The credential is still on the device, but no longer signs in.
        page.get_by_role("button", name="Abmelden").click()
        page.get_by_role("button", name="Mit Passkey anmelden").click()
        expect(page.get_by_text("nicht (mehr) hinterlegt")).to_be_visible()
        log_in(page, "pia@example.com", "pia-passwort-123")
        expect(page.get_by_role("heading", name="Mein Konto")).to_be_visible()
        browser.close()

        def subjects():
            return [str(make_header(decode_header(m["Subject"]))) for m in live.mails()]

        assert wait_until(
            lambda: {"Passkey hinzugefügt", "Passkey entfernt"} <= set(subjects()), seconds=20
        )
