"""One-time links by mail: "Passwort vergessen?", the confirmed e-mail change
and the confirmed registration. Mails go through the outbox into the
instance's Maildir (the operator's SMTP server is tested in the browser
tests); links are read from them as a user would."""

from __future__ import annotations

import datetime as dt
from email.header import decode_header, make_header

from core.data.db import bind, utcnow
from core.data.models import Account, EmailLink, User, UserSession
from core.delivery.outbox import REDACTED, MailOutbox
from tests.conftest import PASSWORD
from tests.support.process import LINK_RE, body_text, maildir_messages, mailed_link
from tests.support.web import csrf_token, login, submit

NEW_PASSWORD = "ganz-neues-passwort-7"
INVALID = "Dieser Link ist ungültig oder abgelaufen"


def _db(app):
    return bind(app).connection_context()


def _mails_to(app, to: str) -> list[str]:
    return [body_text(m) for m in maildir_messages(app) if m["To"] == to]


def _subjects_to(app, to: str) -> list[str]:
    return [
        str(make_header(decode_header(m["Subject"])))
        for m in maildir_messages(app)
        if m["To"] == to
    ]


def _links(app, to: str) -> list[str]:
    return [match.group(0) for body in _mails_to(app, to) for match in LINK_RE.finditer(body)]


def _link(app, to: str, kind: str) -> str:
    return mailed_link(lambda: maildir_messages(app), to, kind)


def _forgot(client, email: str):
    return submit(client, "/password/forgot", {"email": email})


def _reset(client, link: str, password: str = NEW_PASSWORD):
    return submit(client, link, {"new_password": password, "confirm": password})


def _expire_links(app) -> None:
    with app.app_context(), _db(app):
        EmailLink.update(expires_at=utcnow() - dt.timedelta(seconds=1)).execute()


# --- Passwort vergessen? --------------------------------------------------------


def test_login_page_offers_forgot_password(client):
    page = client.get("/login").get_data(as_text=True)
    assert 'href="/password/forgot"' in page and "Passwort vergessen?" in page


def test_forgot_password_answers_known_and_unknown_addresses_alike(app, owner):
    answers = []
    for email in (owner.email, "niemand@example.com"):
        client = app.test_client()
        response = _forgot(client, email)
        assert response.status_code == 302 and response.headers["Location"] == "/login"
        page = client.get("/login").get_data(as_text=True)
        assert f"Wenn zu {email} ein Konto besteht" in page
        answers.append(page.replace(email, "ADDRESS").split("csrf_token")[0])
    assert answers[0] == answers[1]
    assert _mails_to(app, "niemand@example.com") == []
    (mail,) = _mails_to(app, owner.email)
    assert "http://localhost/password/reset/" in mail and "eine Stunde" in mail


def test_reset_link_sets_the_password_ends_every_session_and_sends_a_notice(
    app, user_client, owner
):
    _forgot(app.test_client(), owner.email)
    link = _link(app, owner.email, "password/reset")
    token = link.rsplit("/", 1)[1]
    with app.app_context(), _db(app):
        stored = EmailLink.get(EmailLink.purpose == "reset")
        assert stored.token_hash != token and token not in stored.data_json
        assert stored.expires_at - utcnow() <= dt.timedelta(hours=1)

    browser = app.test_client()
    assert "Neues Passwort festlegen" in browser.get(link).get_data(as_text=True)
    response = _reset(browser, link)
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert "Alle Sitzungen wurden abgemeldet" in browser.get("/login").get_data(as_text=True)

    assert user_client.get("/account/").status_code == 302  # the old session is over
    with app.app_context(), _db(app):
        live = UserSession.select().where(
            UserSession.user == owner.id, UserSession.revoked_at.is_null()
        )
        assert live.count() == 0
    assert login(app.test_client(), owner.email, PASSWORD).status_code == 422
    assert login(app.test_client(), owner.email, NEW_PASSWORD).status_code == 302

    assert "Ihr Passwort wurde geändert" in _subjects_to(app, owner.email)
    (notice,) = [m for m in _mails_to(app, owner.email) if "Zeitpunkt:" in m]
    assert "Zeitpunkt:" in notice and "IP-Adresse: 127.0.0.1" in notice
    assert "Wenn Sie das nicht waren" in notice and "http://localhost/password/forgot" in notice


def test_sent_link_mails_keep_no_token_in_the_outbox(app, owner):
    _forgot(app.test_client(), owner.email)
    link = _link(app, owner.email, "password/reset")
    with app.app_context(), _db(app):
        rows = list(MailOutbox.select())
        assert rows and all(row.status == "sent" for row in rows)
        assert not any(link.rsplit("/", 1)[1] in row.message for row in rows)
        assert any(REDACTED in row.message and f"To: {owner.email}" in row.message for row in rows)


def test_used_expired_and_tampered_reset_links_change_nothing(app, owner):
    _forgot(app.test_client(), owner.email)
    link = _link(app, owner.email, "password/reset")
    tampered = link[:-3] + ("aaa" if not link.endswith("aaa") else "bbb")
    for url in (tampered, link.rsplit("/", 1)[0] + "/" + "x" * 500):
        response = app.test_client().get(url)
        assert response.status_code == 400 and INVALID in response.get_data(as_text=True)
    assert _reset(app.test_client(), link).status_code == 302
    reused = app.test_client().get(link)
    assert reused.status_code == 400 and INVALID in reused.get_data(as_text=True)

    _forgot(app.test_client(), owner.email)
    (second,) = {u for u in _links(app, owner.email) if "/password/reset/" in u} - {link}
    browser = app.test_client()
    token = csrf_token(browser, second)  # the form was loaded, then the hour ran out
    _expire_links(app)
    late = "noch-ein-passwort-9"
    expired = browser.post(
        second, data={"csrf_token": token, "new_password": late, "confirm": late}
    )
    assert expired.status_code == 400 and INVALID in expired.get_data(as_text=True)
    assert login(app.test_client(), owner.email, late).status_code == 422
    assert login(app.test_client(), owner.email, NEW_PASSWORD).status_code == 302


def test_a_new_reset_link_replaces_the_older_one(app, owner):
    _forgot(app.test_client(), owner.email)
    first = _link(app, owner.email, "password/reset")
    _forgot(app.test_client(), owner.email)
    with app.app_context(), _db(app):
        assert EmailLink.select().where(EmailLink.purpose == "reset").count() == 1
    assert app.test_client().get(first).status_code == 400


def test_forgot_password_is_limited_per_address(app, owner):
    statuses = [_forgot(app.test_client(), owner.email).status_code for _ in range(4)]
    assert statuses == [302, 302, 302, 429]
    assert _forgot(app.test_client(), "andere@example.com").status_code == 302


def test_forgot_password_rejects_a_bad_address_in_german(client):
    response = _forgot(client, "kein-at")
    assert response.status_code == 422
    assert "Bitte geben Sie eine gültige E-Mail-Adresse ein." in response.get_data(as_text=True)


# --- E-Mail-Adresse ändern --------------------------------------------------------


def _change_email(client, new_email: str = "neu@example.com"):
    return submit(
        client,
        "/account/profile/email",
        {"new_email": new_email, "current_password": PASSWORD, "submit": "1"},
        prefix="email-",
        page="/account/profile",
    )


def _profile_button(client, url: str):
    return submit(client, url, {}, page="/account/profile")


def test_email_change_waits_for_the_link_and_tells_the_old_address(app, user_client, owner):
    other = app.test_client()
    login(other, owner.email, PASSWORD)
    assert _change_email(user_client).status_code == 302
    page = user_client.get("/account/profile").get_data(as_text=True)
    assert "Bestätigung ausstehend" in page and "neu@example.com" in page
    assert "erneut senden" in page and "abbrechen" in page
    with app.app_context(), _db(app):
        assert User.get_by_id(owner.id).email == owner.email

    (notice,) = _mails_to(app, owner.email)
    assert "neu@example.com" in notice and "IP-Adresse: 127.0.0.1" in notice
    assert "antworten Sie auf diese E-Mail, um uns den Vorfall zu melden" in notice
    assert "/email/confirm/" not in notice

    link = _link(app, "neu@example.com", "email/confirm")
    assert "E-Mail-Adresse bestätigen" in user_client.get(link).get_data(as_text=True)
    response = submit(user_client, link, {})
    assert response.status_code == 302 and response.headers["Location"] == "/account/profile"
    page = user_client.get("/account/profile").get_data(as_text=True)
    assert "Bestätigung ausstehend" not in page and "neu@example.com" in page
    with app.app_context(), _db(app):
        assert User.get_by_id(owner.id).email == "neu@example.com"
    assert other.get("/account/").status_code == 302  # other sessions ended
    assert "Ihre E-Mail-Adresse wurde geändert" in _subjects_to(app, owner.email)
    assert login(app.test_client(), "neu@example.com", PASSWORD).status_code == 302
    reused = app.test_client().get(link)
    assert reused.status_code == 400 and INVALID in reused.get_data(as_text=True)


def test_resend_replaces_the_link_and_cancel_ends_the_change(app, user_client, owner):
    _change_email(user_client)
    first = _link(app, "neu@example.com", "email/confirm")
    assert _profile_button(user_client, "/account/profile/email/resend").status_code == 302
    with app.app_context(), _db(app):
        assert EmailLink.select().where(EmailLink.purpose == "email").count() == 1
    assert len(_mails_to(app, "neu@example.com")) == 2
    assert app.test_client().get(first).status_code == 400  # replaced
    assert _profile_button(user_client, "/account/profile/email/cancel").status_code == 302
    page = user_client.get("/account/profile").get_data(as_text=True)
    assert "Bestätigung ausstehend" not in page
    with app.app_context(), _db(app):
        assert EmailLink.select().count() == 0
        assert User.get_by_id(owner.id).email == owner.email


def test_expired_email_link_changes_nothing(app, user_client, owner):
    _change_email(user_client)
    link = _link(app, "neu@example.com", "email/confirm")
    _expire_links(app)
    response = user_client.get(link)
    assert response.status_code == 400 and INVALID in response.get_data(as_text=True)
    assert "Bestätigung ausstehend" not in user_client.get("/account/profile").get_data(
        as_text=True
    )
    with app.app_context(), _db(app):
        assert User.get_by_id(owner.id).email == owner.email


def test_an_address_taken_before_confirmation_is_refused(app, user_client, owner, make_owner):
    _change_email(user_client, "spaeter@example.com")
    link = _link(app, "spaeter@example.com", "email/confirm")
    make_owner("spaeter@example.com", company="Schneller GmbH")
    response = submit(user_client, link, {})
    assert response.status_code == 400
    with app.app_context(), _db(app):
        assert User.get_by_id(owner.id).email == owner.email


# --- Registrieren -------------------------------------------------------------------

SIGN_UP = {
    "company_name": "Neu GmbH",
    "first_name": "Nina",
    "last_name": "Neu",
    "email": "nina@example.com",
    "password": PASSWORD,
}


def test_sign_up_link_can_be_sent_again_and_works_once(app, client):
    submit(client, "/register", SIGN_UP)
    first = _link(app, "nina@example.com", "register/confirm")
    response = submit(
        client, "/register/resend", {"email": "nina@example.com"}, page="/register/sent"
    )
    assert response.status_code == 302 and response.headers["Location"] == "/register/sent"
    assert len(_mails_to(app, "nina@example.com")) == 2
    assert client.get(first).status_code == 400  # only the newest link works
    with app.app_context(), _db(app):
        link = EmailLink.get(EmailLink.purpose == "signup")
        assert PASSWORD not in link.data_json and link.data["password_hash"].startswith(
            "$argon2id$"
        )
        assert link.expires_at - utcnow() <= dt.timedelta(hours=24)
    (token_link,) = set(_links(app, "nina@example.com")) - {first}
    browser = app.test_client()
    assert submit(browser, token_link, {}).headers["Location"] == "/account/"
    assert "Neu GmbH" in browser.get("/account/").get_data(as_text=True)
    assert app.test_client().get(token_link).status_code == 400
    with app.app_context(), _db(app):
        assert Account.select().where(Account.company_name == "Neu GmbH").count() == 1


def test_expired_sign_up_link_creates_nothing(app, client):
    submit(client, "/register", SIGN_UP)
    link = _link(app, "nina@example.com", "register/confirm")
    client.get(link)
    _expire_links(app)
    response = submit(client, link, {}, page="/login")
    assert response.status_code == 400 and INVALID in response.get_data(as_text=True)
    with app.app_context(), _db(app):
        assert not User.select().where(User.email == "nina@example.com").exists()


def test_sign_up_is_limited_per_address_from_any_ip(app, owner):
    """Registering with someone's address mails them; a new IP each time must
    not let that flood their inbox."""
    statuses = []
    for i in range(4):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"10.2.0.{i}"
        statuses.append(submit(client, "/register", {**SIGN_UP, "email": owner.email}).status_code)
    assert statuses == [302, 302, 302, 429]
    assert len(_subjects_to(app, owner.email)) == 3
    assert submit(app.test_client(), "/register", SIGN_UP).status_code == 302


def test_resend_for_an_unknown_address_answers_alike_and_sends_nothing(app, client):
    response = submit(
        client, "/register/resend", {"email": "wer@example.com"}, page="/register/sent"
    )
    assert response.status_code == 302 and response.headers["Location"] == "/register/sent"
    assert _mails_to(app, "wer@example.com") == []
