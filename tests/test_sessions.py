"""Server-side sessions: a revoked session's cookie is worthless."""

from __future__ import annotations

import time

from tests.conftest import PASSWORD
from tests.support.web import TOKEN_RE, csrf_token, login, submit


def _cookie(client):
    return client.get_cookie("kontor_session").value


def _replay(app, cookie):
    other = app.test_client()
    other.set_cookie("kontor_session", cookie)
    return other.get("/account/profile")


def test_logout_revokes_session_server_side(app, user_client):
    cookie = _cookie(user_client)
    token = csrf_token(user_client, "/account/")
    user_client.post("/logout", data={"csrf_token": token})
    assert user_client.get("/account/").status_code == 302
    assert _replay(app, cookie).status_code == 302


def test_a_cookie_is_refused_once_too_old(app, user_client, monkeypatch):
    """The signed cookie expires with the session lifetime (the server-side
    session is still valid here: only the cookie is too old)."""
    cookie = _cookie(user_client)
    assert _replay(app, cookie).status_code == 200
    later = time.time() + app.permanent_session_lifetime.total_seconds() + 5
    monkeypatch.setattr(time, "time", lambda: later)
    assert _replay(app, cookie).status_code == 302


def test_a_changed_signature_is_refused_after_the_genuine_cookie(app, user_client):
    cookie = _cookie(user_client)
    assert _replay(app, cookie).status_code == 200
    forged = cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB")
    assert _replay(app, forged).status_code == 302


def test_a_cookie_carrying_messages_reads_as_sent_every_time(app, user_client):
    """A request may add to the messages its cookie carries; the same cookie
    sent again still carries only what it carried."""
    company_token = csrf_token(user_client, "/account/company")
    profile = {"first_name": "Erika", "last_name": "Muster", "submit": "1"}
    assert submit(user_client, "/account/profile", profile, prefix="profile-").status_code == 302
    carrying = _cookie(user_client)  # "Ihre Nutzerdaten wurden gespeichert." waits in it
    company = {
        "company_name": "Neu GmbH",
        "notification_email": "info@neu.example",
        "mobile_number": "",
    }
    added = user_client.post("/account/company", data={"csrf_token": company_token, **company})
    assert added.status_code == 302
    shown = _replay(app, carrying).get_data(as_text=True)
    assert "Ihre Nutzerdaten wurden gespeichert." in shown
    assert "Die Firmendaten wurden gespeichert." not in shown


def test_password_change_ends_other_sessions_but_not_this_one(app, user_client, owner):
    second = app.test_client()
    login(second, owner.email, PASSWORD)
    old_cookie = _cookie(second)
    response = submit(
        user_client,
        "/account/profile/password",
        {
            "current_password": PASSWORD,
            "new_password": "neues-passwort-42",
            "confirm": "neues-passwort-42",
            "submit": "1",
        },
        prefix="password-",
        page="/account/profile",
    )
    assert response.status_code == 302
    assert user_client.get("/account/profile").status_code == 200
    assert second.get("/account/profile").status_code == 302
    assert _replay(app, old_cookie).status_code == 302
    assert login(app.test_client(), owner.email, "neues-passwort-42").status_code == 302


def test_logout_all_other_sessions(app, user_client, owner):
    second = app.test_client()
    login(second, owner.email, PASSWORD)
    response = submit(
        user_client,
        "/account/profile/sessions",
        {"submit": "1"},
        "others-",
    )
    assert response.status_code == 302
    assert second.get("/account/").status_code == 302
    assert user_client.get("/account/").status_code == 200


def test_sessions_page_says_what_it_shows_and_what_to_do(user_client):
    """The intro: what the page lists, what "Abmelden" does, and where to go
    when a sign-in looks unknown (a new password, two-factor login)."""
    page = user_client.get("/account/profile/sessions").get_data(as_text=True)
    intro = page[page.index("<h1>Sitzungen und Anmeldeverlauf</h1>") : page.index('id="sitzungen"')]
    assert "auf welchen Geräten und in welchen Browsern Sie angemeldet sind" in intro
    assert "„Abmelden“ beendet eine Sitzung sofort" in intro
    assert "Kommt Ihnen eine Sitzung oder Anmeldung unbekannt vor?" in intro
    assert '<a href="/account/profile#passwort-aendern">Passwort ändern</a>' in intro
    assert '<a href="/account/profile/two-factor">Zwei-Faktor-Anmeldung</a>' in intro
    profile = user_client.get("/account/profile").get_data(as_text=True)
    assert 'id="passwort-aendern"' in profile


def test_session_cookie_flags_over_https(make_app, owner):
    app = make_app({"KONTOR_COOKIE_SECURE": "true", "KONTOR_BASE_URL": "https://localhost"})
    client = app.test_client()
    page = client.get("/login", base_url="https://localhost").get_data(as_text=True)
    token = TOKEN_RE.search(page).group(1)
    response = client.post(
        "/login",
        base_url="https://localhost",
        data={"csrf_token": token, "email": owner.email, "password": PASSWORD},
        headers={"Referer": "https://localhost/login"},
    )
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "max-age" in response.headers["Strict-Transport-Security"]


def test_login_is_rate_limited_per_address(app, owner):
    statuses = []
    for i in range(12):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"10.0.0.{i}"  # a different IP each time
        statuses.append(login(client, owner.email, "falsch-falsch").status_code)
    assert statuses[:10] == [422] * 10
    assert statuses[10:] == [429, 429]


def test_page_loads_do_not_send_the_session_cookie_again(user_client):
    """The cookie lives as long as the server-side session; it is set when it changes only."""
    user_client.get("/account/profile")  # puts the form token into the session
    again = user_client.get("/account/profile")
    assert again.status_code == 200
    assert "Set-Cookie" not in again.headers


def test_a_form_token_lasts_as_long_as_a_login(app, client, monkeypatch):
    """The cookie holding the token may be re-signed later (any change to the
    session does that); a form token signed longer ago than a login lasts is
    refused all the same."""
    lifetime = app.permanent_session_lifetime.total_seconds()
    start = time.time()
    token = csrf_token(client, "/login")
    monkeypatch.setattr(time, "time", lambda: start + lifetime - 10)
    with client.session_transaction() as session:
        session["probe"] = "re-signs the cookie"
    form = {"csrf_token": token, "email": "x@example.com", "password": "falsch-falsch"}
    assert client.post("/login", data=form).status_code == 422  # still good
    monkeypatch.setattr(time, "time", lambda: start + lifetime + 5)
    response = client.post("/login", data=form)
    assert response.status_code == 400
    assert "Das Formular ist abgelaufen" in response.get_data(as_text=True)
    assert (
        client.post("/login", data={**form, "csrf_token": csrf_token(client, "/login")}).status_code
        == 422
    )
