"""Two-factor login: set-up with a QR code and a key, sign-in with a TOTP
code or a recovery code (each once), new recovery codes, turning it off, the
account's rule, the security notices and the service API. Codes come from
pyotp as an authenticator app would make them."""

from __future__ import annotations

import html
import re
import time

import pyotp
import pytest

from core.cli import apply_migrations
from core.data.db import bind
from core.data.models import Account, SignIn, User
from core.security.crypto import decrypt
from core.security.twofactor import CONTEXT, RecoveryCode, TwoFactor
from tests.conftest import PASSWORD
from tests.support.db import owner_state, statements
from tests.support.process import maildir_messages, mailed_link
from tests.support.web import AUTH, csrf_token, login, submit

SETTINGS = "/account/profile/two-factor"
SECOND_STEP = "/login/two-factor"
SECRET_RE = re.compile(r'<code class="secret"[^>]*>([A-Z2-7 ]+)</code>')
CODES_RE = re.compile(r"<li><code>([a-z0-9-]+)</code></li>")


def _db(app):
    return bind(app).connection_context()


class App:
    """An authenticator app: codes for the time step before, at and after now.

    Starts early enough in a 30-second step that the step does not change
    while a test uses its codes (the server accepts one step either side).
    """

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.totp = pyotp.TOTP(secret)
        left = 30 - time.time() % 30
        if left < 8:
            time.sleep(left + 0.1)
        self.now = time.time()

    def code(self, steps: int = 0) -> str:
        return self.totp.at(self.now + 30 * steps)


def _secret(client) -> str:
    page = client.get(SETTINGS).get_data(as_text=True)
    return SECRET_RE.search(page).group(1).replace(" ", "")


def _enable(client, code: str | None = None, password: str = PASSWORD):
    """Turn on from the settings page with the code of the step before now;
    returns the answer and the app, whose other codes are still unused."""
    app = App(_secret(client))
    response = submit(
        client,
        f"{SETTINGS}/enable",
        {"code": code or app.code(-1), "current_password": password},
        prefix="enable-",
        page=SETTINGS,
    )
    return response, app


def _codes(response) -> list[str]:
    return CODES_RE.findall(response.get_data(as_text=True))


def _turned_on(client) -> tuple[App, list[str]]:
    response, app = _enable(client)
    assert response.status_code == 200, response.get_data(as_text=True)
    return app, _codes(response)


def _second_step(client, code: str):
    return submit(client, SECOND_STEP, {"code": code})


def _row(app, user_id: int) -> TwoFactor | None:
    with app.app_context(), _db(app):
        return TwoFactor.get_or_none(TwoFactor.user == user_id)


# --- set-up -------------------------------------------------------------------------


def test_set_up_shows_a_qr_code_and_the_key_and_keeps_the_secret_encrypted(app, user_client, owner):
    page = user_client.get(SETTINGS).get_data(as_text=True)
    assert "<h1>Zwei-Faktor-Anmeldung</h1>" in page
    assert (
        re.search(r'<svg viewBox="[\d ]+" class="qr">', page)
        and "<title>QR-Code für Ihre Authenticator-App</title>" in page
    )
    secret = SECRET_RE.search(page).group(1).replace(" ", "")
    assert len(secret) == 32
    assert "Ausgeschaltet" in page
    assert 'aria-current="page"' in page and "<span>Nutzerdaten</span></a>" in page
    row = _row(app, owner.id)
    assert row.enabled_at is None and secret not in row.secret
    with app.app_context():
        assert decrypt(row.secret, CONTEXT.format(owner.id)) == secret
    # a reload shows the same key (the app may have scanned it already)
    assert _secret(user_client) == secret


def test_turning_on_needs_a_current_code_and_the_password(app, user_client, owner):
    response, authenticator = _enable(user_client)
    secret = authenticator.secret
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Die Zwei-Faktor-Anmeldung ist eingeschaltet." in page
    codes = _codes(response)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(re.fullmatch(r"[a-z2-9]{4}(-[a-z2-9]{4}){3}", c) for c in codes)
    with app.app_context(), _db(app):
        assert TwoFactor.get(TwoFactor.user == owner.id).enabled_at is not None
        stored = [r.code_hash for r in RecoveryCode.select()]
        assert len(stored) == 10 and not set(codes) & set(stored)
    settings = user_client.get(SETTINGS).get_data(as_text=True)
    assert "Eingeschaltet" in settings and "Noch 10 von 10 Codes sind unbenutzt." in settings
    assert secret not in settings and 'class="qr"' not in settings
    profile = user_client.get("/account/profile").get_data(as_text=True)
    assert "Anmeldung und Sicherheit" in profile
    link = r'href="/account/profile/two-factor">Zwei-Faktor-Anmeldung</a>\s*'
    assert re.search(link + r'<span class="badge badge-ok">an \(Authenticator-App\)<', profile)


@pytest.mark.parametrize(
    ("code", "password", "field", "message"),
    [
        ("000000", PASSWORD, "enable-code", "Der Code stimmt nicht."),
        ("abc", PASSWORD, "enable-code", "Der Code stimmt nicht."),
        ("", PASSWORD, "enable-code", "Dieses Feld ist erforderlich."),
        (
            "now",
            "falsches-passwort",
            "enable-current_password",
            "Das aktuelle Passwort ist falsch.",
        ),
    ],
)
def test_a_wrong_code_or_password_turns_nothing_on(
    app, user_client, owner, code, password, field, message
):
    before = owner_state(app, owner)
    if code == "now":
        code = App(_secret(user_client)).code()
    response = submit(
        user_client,
        f"{SETTINGS}/enable",
        {"code": code, "current_password": password},
        prefix="enable-",
        page=SETTINGS,
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert f'id="{field}-error" role="alert">{html.escape(message, quote=False)}' in page
    assert _row(app, owner.id).enabled_at is None
    with app.app_context(), _db(app):
        assert RecoveryCode.select().count() == 0
    assert "Ausgeschaltet" in page  # the set-up is still offered
    assert owner_state(app, owner) == before


def test_overview_shows_the_state_without_a_query_of_its_own(app, user_client, owner):
    """The Nutzerdaten card says whether two-factor login is on; the state
    comes with the session's own query, so the overview runs no extra one."""
    card = re.compile(r'aria-labelledby="card-profile">.*?</section>', re.S)
    overview = user_client.get("/account/").get_data(as_text=True)
    assert "<li>Zwei-Faktor-Anmeldung: aus</li>" in card.search(overview).group(0)
    _turned_on(user_client)
    with statements() as sql:
        overview = user_client.get("/account/").get_data(as_text=True)
    assert "<li>Zwei-Faktor-Anmeldung: an (Authenticator-App)</li>" in card.search(overview).group(
        0
    )
    factors = [q for q in sql if "core_two_factor" in q or "core_passkey" in q]
    assert len(factors) == 1 and "core_user_session" in factors[0]


def test_profile_shows_two_factor_off(user_client):
    profile = user_client.get("/account/profile").get_data(as_text=True)
    assert re.search(r'Zwei-Faktor-Anmeldung</a>\s*<span class="badge badge-off">aus<', profile)


# --- signing in ---------------------------------------------------------------------


def test_sign_in_asks_for_the_code_and_takes_each_code_once(app, user_client, owner):
    authenticator = _turned_on(user_client)[0]

    browser = app.test_client()
    response = login(browser, owner.email, PASSWORD)
    assert response.status_code == 302 and response.headers["Location"] == SECOND_STEP
    assert browser.get("/account/").status_code == 302  # not logged in yet
    page = browser.get(SECOND_STEP).get_data(as_text=True)
    assert "Geben Sie den sechsstelligen Code" in page

    used_at_set_up = _second_step(browser, authenticator.code(-1))
    assert used_at_set_up.status_code == 422
    assert "Der Code stimmt nicht oder wurde schon verwendet." in used_at_set_up.get_data(
        as_text=True
    )
    response = _second_step(browser, authenticator.code())
    assert response.status_code == 302 and response.headers["Location"] == "/account/"
    assert browser.get("/account/").status_code == 200

    again = app.test_client()  # the same code, from another browser
    login(again, owner.email, PASSWORD)
    replay = _second_step(again, authenticator.code())
    assert replay.status_code == 422
    assert again.get("/account/").status_code == 302
    assert _second_step(again, authenticator.code(1)).status_code == 302  # the next step's code
    assert again.get("/account/").status_code == 200


def test_sign_in_keeps_the_page_asked_for(app, user_client, owner):
    authenticator = _turned_on(user_client)[0]
    browser = app.test_client()
    token = csrf_token(browser, "/login")
    browser.post(
        "/login?next=/account/company",
        data={"csrf_token": token, "email": owner.email, "password": PASSWORD},
    )
    response = _second_step(browser, authenticator.code())
    assert response.headers["Location"] == "/account/company"


def test_a_wrong_second_factor_shows_in_the_sign_in_history(app, user_client, owner):
    """Someone who got past the password but not the code knows the password:
    the owner sees the failed attempt in the history."""
    authenticator = _turned_on(user_client)[0]
    browser = app.test_client()
    login(browser, owner.email, PASSWORD)
    assert _second_step(browser, "000000").status_code == 422
    assert _second_step(browser, "aaaa-bbbb-cccc-dddd").status_code == 422
    with app.app_context(), _db(app):
        rows = list(SignIn.select().where(SignIn.user == owner.id).order_by(SignIn.id))
    assert [(r.success, r.reason) for r in rows][-2:] == [(False, "code"), (False, "code")]
    assert _second_step(browser, authenticator.code()).status_code == 302
    page = user_client.get("/account/profile/sessions").get_data(as_text=True)
    assert "fehlgeschlagen (falscher Code)" in page


def test_a_waiting_sign_in_expires(app, user_client, owner):
    _turned_on(user_client)
    browser = app.test_client()
    login(browser, owner.email, PASSWORD)
    with browser.session_transaction() as session:
        pending = session["two_factor_login"]
        session["two_factor_login"] = {**pending, "until": int(time.time()) - 1}
    response = browser.get(SECOND_STEP)
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert "Bitte melden Sie sich erneut an." in browser.get("/login").get_data(as_text=True)
    assert browser.get("/account/").status_code == 302


def test_a_new_password_by_link_still_needs_the_second_factor(app, user_client, owner):
    authenticator = _turned_on(user_client)[0]
    submit(app.test_client(), "/password/forgot", {"email": owner.email})
    link = mailed_link(lambda: maildir_messages(app), owner.email, "password/reset")
    browser = app.test_client()
    new = "ganz-neues-passwort-7"
    submit(browser, link, {"new_password": new, "confirm": new})
    assert login(browser, owner.email, new).headers["Location"] == SECOND_STEP
    assert browser.get("/account/").status_code == 302
    assert _second_step(browser, authenticator.code()).status_code == 302


def test_a_new_password_ends_a_waiting_sign_in(app, user_client, owner):
    """Someone who knew the old password and waits at the second step is sent
    back to "Anmelden" once the owner sets a new password."""
    _turned_on(user_client)
    intruder = app.test_client()
    assert login(intruder, owner.email, PASSWORD).headers["Location"] == SECOND_STEP
    assert intruder.get(SECOND_STEP).status_code == 200
    new = "ganz-neues-passwort-8"
    submit(
        user_client,
        "/account/profile/password",
        {"current_password": PASSWORD, "new_password": new, "confirm": new},
        prefix="password-",
        page="/account/profile",
    )
    response = intruder.get(SECOND_STEP)
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert intruder.get("/account/").status_code == 302


def test_the_second_step_without_a_password_leads_to_login(client):
    response = client.get(SECOND_STEP)
    assert response.status_code == 302 and response.headers["Location"] == "/login"


def test_a_recovery_code_signs_in_once(app, user_client, owner):
    codes = _turned_on(user_client)[1]
    browser = app.test_client()
    login(browser, owner.email, PASSWORD)
    response = _second_step(browser, codes[3].upper().replace("-", " "))  # as typed
    assert response.status_code == 302
    page = browser.get("/account/").get_data(as_text=True)
    assert "Sie haben einen Wiederherstellungscode verwendet; 9 sind übrig." in page

    again = app.test_client()
    login(again, owner.email, PASSWORD)
    assert _second_step(again, codes[3]).status_code == 422
    assert again.get("/account/").status_code == 302
    assert "Noch 9 von 10 Codes sind unbenutzt." in user_client.get(SETTINGS).get_data(as_text=True)


def test_code_attempts_are_limited_per_user(app, user_client, owner):
    _turned_on(user_client)
    statuses = []
    for _ in range(6):  # a new browser (and session) each time: counted per user
        browser = app.test_client()
        login(browser, owner.email, PASSWORD)
        statuses.append(_second_step(browser, "123456").status_code)
    assert statuses == [422] * 5 + [429]


def test_code_attempts_are_limited_per_ip(make_app, make_owner):
    """Guessing for many users from one address: at most 10 a minute."""
    app = make_app({"KONTOR_LOGIN_LIMIT": "100 per minute"})
    statuses = []
    for _ in range(4):
        user = make_owner()
        client = app.test_client()
        login(client, user.email, PASSWORD)
        _turned_on(client)
        for _ in range(3):
            browser = app.test_client()
            login(browser, user.email, PASSWORD)
            statuses.append(_second_step(browser, "123456").status_code)
    assert statuses[:10] == [422] * 10 and statuses[10:] == [429, 429]


# --- recovery codes and turning off ---------------------------------------------------------


def _new_codes(client, code: str, password: str = PASSWORD):
    return submit(
        client,
        f"{SETTINGS}/recovery-codes",
        {"code": code, "current_password": password},
        prefix="codes-",
        page=SETTINGS,
    )


@pytest.mark.parametrize(
    ("code", "password", "field", "message"),
    [
        ("000000", PASSWORD, "codes-code", "Der Code stimmt nicht oder wurde schon verwendet."),
        ("aaaa-bbbb-cccc-dddd", PASSWORD, "codes-code", "Der Code stimmt nicht oder"),
        ("", PASSWORD, "codes-code", "Dieses Feld ist erforderlich."),
        ("now", "falsches-passwort", "codes-current_password", "Das aktuelle Passwort ist falsch."),
        ("now", "", "codes-current_password", "Dieses Feld ist erforderlich."),
    ],
)
def test_new_recovery_codes_need_the_password_and_a_code(
    app, user_client, owner, code, password, field, message
):
    """A stolen session with a known password gets no new codes: the old ones
    stay valid; the message sits next to its field."""
    authenticator = _turned_on(user_client)[0]
    with app.app_context(), _db(app):
        before = sorted(r.code_hash for r in RecoveryCode.select())
    response = _new_codes(user_client, authenticator.code() if code == "now" else code, password)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert f'id="{field}-error" role="alert">{message}' in page
    assert not _codes(response)
    with app.app_context(), _db(app):
        assert sorted(r.code_hash for r in RecoveryCode.select()) == before
    if field.endswith("current_password"):  # the code was not spent on a wrong password
        assert _new_codes(user_client, authenticator.code()).status_code == 200


def test_new_recovery_codes_replace_the_old_ones(app, user_client, owner):
    authenticator, old = _turned_on(user_client)
    response = _new_codes(user_client, authenticator.code())
    assert response.status_code == 200
    new = _codes(response)
    assert len(new) == 10 and not set(new) & set(old)
    assert "Ihre alten Wiederherstellungscodes gelten nicht mehr." in response.get_data(
        as_text=True
    )
    page = user_client.get(SETTINGS).get_data(as_text=True)
    assert 'for="codes-code">Code aus der App oder Wiederherstellungscode</label>' in page
    browser = app.test_client()
    login(browser, owner.email, PASSWORD)
    assert _second_step(browser, old[0]).status_code == 422
    assert _second_step(browser, new[0]).status_code == 302
    again = _new_codes(user_client, new[1])  # a recovery code will do, once
    assert again.status_code == 200 and new[1] not in _codes(again)


def test_new_recovery_codes_share_the_limit_of_the_code_checks(app, user_client, owner):
    _turned_on(user_client)  # one check of the five per minute
    statuses = [_new_codes(user_client, "000000").status_code for _ in range(5)]
    assert statuses == [422] * 4 + [429]


def test_turning_off_needs_the_password_and_a_code(app, user_client, owner):
    authenticator, codes = _turned_on(user_client)

    def turn_off(code: str, password: str = PASSWORD):
        return submit(
            user_client,
            f"{SETTINGS}/disable",
            {"code": code, "current_password": password},
            prefix="disable-",
            page=SETTINGS,
        )

    refused = turn_off("000000")
    assert refused.status_code == 422
    assert "Der Code stimmt nicht oder wurde schon verwendet." in refused.get_data(as_text=True)
    assert turn_off(authenticator.code(), "falsches-passwort").status_code == 422
    assert _row(app, owner.id).enabled_at is not None

    response = turn_off(codes[0])  # a recovery code will do
    assert response.status_code == 302
    assert "Die Zwei-Faktor-Anmeldung ist ausgeschaltet." in user_client.get(SETTINGS).get_data(
        as_text=True
    )
    with app.app_context(), _db(app):
        assert RecoveryCode.select().count() == 0
        assert not TwoFactor.select().where(TwoFactor.enabled_at.is_null(False)).exists()
    assert login(app.test_client(), owner.email, PASSWORD).headers["Location"] == "/account/"


# --- the account's rule -----------------------------------------------------------------


def _require(client, on: bool = True, **confirm: str):
    data = {"required": "y"} if on else confirm
    return submit(client, "/account/users/two-factor", data)


def _required(app, account_id) -> bool:
    with app.app_context(), _db(app):
        return Account.get_by_id(account_id).two_factor_required


@pytest.mark.parametrize(
    ("confirm", "field", "message"),
    [
        ({}, "current_password", "Dieses Feld ist erforderlich."),
        ({"code": "now"}, "current_password", "Dieses Feld ist erforderlich."),
        (
            {"code": "now", "current_password": "falsches-passwort"},
            "current_password",
            "Das aktuelle Passwort ist falsch.",
        ),
        ({"current_password": PASSWORD}, "code", "Dieses Feld ist erforderlich."),
        (
            {"code": "000000", "current_password": PASSWORD},
            "code",
            "Der Code stimmt nicht oder wurde schon verwendet.",
        ),
    ],
)
def test_lifting_the_rule_needs_the_password_and_a_code(
    app, user_client, owner, confirm, field, message
):
    """Turning the account's rule off weakens every login of the account: a
    stolen session with a known password cannot do it."""
    authenticator = _turned_on(user_client)[0]
    assert _require(user_client).status_code == 302
    page = user_client.get("/account/users/two-factor").get_data(as_text=True)
    assert 'for="code">Code aus der App oder Wiederherstellungscode</label>' in page
    assert 'for="current_password">Aktuelles Passwort</label>' in page
    if confirm.get("code") == "now":
        confirm = {**confirm, "code": authenticator.code()}
    refused = _require(user_client, False, **confirm)
    assert refused.status_code == 422
    assert f'id="{field}-error" role="alert">{message}' in refused.get_data(as_text=True)
    assert _required(app, owner.account_id)
    assert '<p class="badge badge-ok">Zurzeit verlangt</p>' in refused.get_data(as_text=True)
    lifted = _require(user_client, False, code=authenticator.code(1), current_password=PASSWORD)
    assert lifted.status_code == 302
    assert not _required(app, owner.account_id)
    page = user_client.get("/account/users/two-factor").get_data(as_text=True)
    assert "Die Zwei-Faktor-Anmeldung ist für Benutzer jetzt freiwillig." in page
    assert 'for="current_password"' not in page  # turning it on asks for neither


def test_lifting_the_rule_takes_a_recovery_code_once(app, user_client, owner):
    codes = _turned_on(user_client)[1]
    _require(user_client)
    assert _require(user_client, False, code=codes[0], current_password=PASSWORD).status_code == 302
    _require(user_client)
    again = _require(user_client, False, code=codes[0], current_password=PASSWORD)
    assert again.status_code == 422 and _required(app, owner.account_id)


def test_lifting_the_rule_shares_the_limit_of_the_code_checks(app, user_client, owner):
    _turned_on(user_client)  # one check of the five per minute
    for _ in range(3):
        assert _require(user_client).status_code == 302  # requiring checks nothing
    statuses = [
        _require(user_client, False, code="000000", current_password=PASSWORD).status_code
        for _ in range(5)
    ]
    assert statuses == [422] * 4 + [429]
    assert _required(app, owner.account_id)
    assert user_client.get("/account/users/two-factor").status_code == 200  # reading is free


def test_requiring_two_factor_needs_it_on_for_whoever_sets_it(app, user_client, owner):
    response = _require(user_client)
    assert response.status_code == 422
    assert "Schalten Sie zuerst Ihre eigene Zwei-Faktor-Anmeldung ein." in response.get_data(
        as_text=True
    )
    with app.app_context(), _db(app):
        assert not Account.get_by_id(owner.account_id).two_factor_required


def test_a_member_is_led_to_set_up_when_the_account_requires_it(
    app, user_client, member_client, roomy_owner
):
    _turned_on(user_client)
    assert _require(user_client).status_code == 302
    page = user_client.get("/account/users/two-factor").get_data(as_text=True)
    assert "Erika Mustermann" in page and "mia@example.com" in page
    assert re.search(r'<span class="badge badge-ok">an \(Authenticator-App\)</span></td>', page)
    assert re.search(r'<span class="badge badge-off">aus</span></td>', page)
    assert "verlangt" in user_client.get("/account/users").get_data(as_text=True)

    for path in ("/account/", "/account/profile", "/account/company", "/account/notifications"):
        response = member_client.get(path)
        assert response.status_code == 302 and response.headers["Location"] == SETTINGS, path
    token = csrf_token(member_client, SETTINGS)
    posted = member_client.post(
        "/account/profile",
        data={"csrf_token": token, "profile-first_name": "X", "profile-last_name": "Y"},
    )
    assert posted.headers["Location"] == SETTINGS
    page = member_client.get(SETTINGS).get_data(as_text=True)
    assert "Ihr Konto verlangt die Zwei-Faktor-Anmeldung. Bitte richten Sie sie jetzt ein." in page

    fresh = app.test_client()  # signing in anew leads there too
    assert login(fresh, "mia@example.com", PASSWORD).headers["Location"] == "/account/"
    assert fresh.get("/account/").headers["Location"] == SETTINGS

    _turned_on(member_client)
    assert member_client.get("/account/company").status_code == 200
    page = member_client.get(SETTINGS).get_data(as_text=True)
    assert "sie bleibt eingeschaltet" in page and "disable-code" not in page
    with app.app_context(), _db(app):
        assert User.get(User.email == "mia@example.com").first_name == "Mia"


def test_a_member_led_to_set_up_can_log_out(app, user_client, member_client):
    _turned_on(user_client)
    _require(user_client)
    token = csrf_token(member_client, SETTINGS)
    assert member_client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert member_client.get(SETTINGS).status_code == 302


def test_members_cannot_change_the_rule(app, member_client, roomy_owner):
    assert member_client.get("/account/users/two-factor").status_code == 403
    token = csrf_token(member_client, "/account/profile")
    response = member_client.post(
        "/account/users/two-factor", data={"csrf_token": token, "required": "y"}
    )
    assert response.status_code == 403
    with app.app_context(), _db(app):
        assert not Account.get_by_id(roomy_owner.account_id).two_factor_required


# --- notices ----------------------------------------------------------------------------


def test_notices_arrive_even_with_every_notification_off(make_app, owner, smtp_server):
    app = make_app(smtp_server.config())  # memory queue: sent within the request
    client = app.test_client()
    login(client, owner.email, PASSWORD)
    matrix = client.get("/account/notifications").get_data(as_text=True)
    assert 'type="checkbox"' in matrix
    submit(client, "/account/notifications", {})  # every box unticked
    assert "checked" not in client.get("/account/notifications").get_data(as_text=True)

    authenticator, codes = _turned_on(client)
    assert _new_codes(client, codes[0]).status_code == 200
    submit(
        client,
        f"{SETTINGS}/disable",
        {"code": authenticator.code(), "current_password": PASSWORD},
        prefix="disable-",
        page=SETTINGS,
    )
    mails = [m for m in smtp_server.inbox.messages if m["To"] == owner.email]
    assert [str(m["Subject"]) for m in mails] == [
        "Zwei-Faktor-Anmeldung eingeschaltet",
        "Neue Wiederherstellungscodes erstellt",
        "Zwei-Faktor-Anmeldung ausgeschaltet",
    ]
    for mail in mails:
        body = mail.get_body(("plain",)).get_content()
        assert "Zeitpunkt:" in body and "IP-Adresse: 127.0.0.1" in body
        assert "Wenn Sie das nicht waren" in body and "http://localhost/password/forgot" in body
        assert not any(code in body for code in codes) and authenticator.secret not in body


# --- service API ----------------------------------------------------------------------------


def test_security_api_lists_users_with_and_without_two_factor(
    app, user_client, member_client, roomy_owner, foreign_member
):
    _turned_on(user_client)
    _require(user_client)
    client = app.test_client()
    response = client.get(f"/api/v1/accounts/{roomy_owner.account_id}/security", headers=AUTH)
    assert response.status_code == 200
    assert response.json == {
        "account_id": roomy_owner.account_id,
        "two_factor_required": True,
        "users": [
            {
                "id": roomy_owner.id,
                "email": "erika@example.com",
                "name": "Erika Mustermann",
                "role": "owner",
                "two_factor": True,
                "totp": True,
                "passkeys": 0,
            },
            {
                "id": response.json["users"][1]["id"],
                "email": "mia@example.com",
                "name": "Mia Mitglied",
                "role": "member",
                "two_factor": False,
                "totp": False,
                "passkeys": 0,
            },
        ],
    }
    other = client.get(f"/api/v1/accounts/{foreign_member.account_id}/security", headers=AUTH)
    assert other.json["two_factor_required"] is False
    assert {u["email"] for u in other.json["users"]} == {"fremd@example.com", "vic@example.com"}
    assert client.get("/api/v1/accounts/999999/security", headers=AUTH).status_code == 404
    assert client.get(f"/api/v1/accounts/{roomy_owner.account_id}/security").status_code == 401


def test_security_api_is_documented(app):
    document = app.test_client().get("/api/v1/openapi.json").json
    item = document["paths"]["/accounts/{account_id}/security"]["get"]
    schema = item["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["account_id", "two_factor_required", "users"]


# --- data ---------------------------------------------------------------------------------


def test_an_existing_database_gets_the_two_factor_tables(app, owner):
    db = bind(app)
    with app.app_context(), db.connection_context():
        db.execute_sql('DROP TABLE "core_recovery_code"')
        db.execute_sql('DROP TABLE "core_two_factor"')
        db.execute_sql('ALTER TABLE "core_account" DROP COLUMN "two_factor_required"')
        db.execute_sql("DELETE FROM core_migrations WHERE id = '0007_two_factor'")
    assert "core:0007_two_factor" in apply_migrations(app)
    with app.app_context(), db.connection_context():
        assert Account.get_by_id(owner.account_id).two_factor_required is False
        assert TwoFactor.select().count() == 0


def test_key_rotation_re_encrypts_the_secrets(app, user_client, owner):
    from cryptography.fernet import Fernet

    from core.cli import cli

    authenticator = _turned_on(user_client)[0]
    old = app.config["KONTOR_ENCRYPTION_KEYS"]
    app.config["KONTOR_ENCRYPTION_KEYS"] = [Fernet.generate_key().decode(), *old]
    result = app.test_cli_runner().invoke(cli, ["keys", "rotate"])
    assert result.exit_code == 0 and "re-encrypted: 1" in result.output
    app.config["KONTOR_ENCRYPTION_KEYS"] = app.config["KONTOR_ENCRYPTION_KEYS"][:1]
    with app.app_context():
        stored = _row(app, owner.id).secret
        assert decrypt(stored, CONTEXT.format(owner.id)) == authenticator.secret
