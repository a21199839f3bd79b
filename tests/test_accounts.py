"""Registration, login, Nutzerdaten, Meine Firma and users through the browser forms."""

from __future__ import annotations

from core.data.accounts import register
from core.data.db import bind
from core.data.models import Account, User
from tests.conftest import PASSWORD
from tests.support.process import maildir_messages, mailed_link
from tests.support.web import csrf_token, login, submit

NEW = {
    "company_name": "Bäckerei Schmidt",
    "first_name": "Jana",
    "last_name": "Schmidt",
    "email": "Jana@Example.com",
    "password": PASSWORD,
}


def _user(app, email):
    with app.app_context(), bind(app).connection_context():
        return User.select(User, Account).join(Account).where(User.email == email).first()


def test_register_creates_account_and_owner_once_the_link_is_opened(app, client):
    response = submit(client, "/register", NEW)
    assert response.status_code == 302 and response.headers["Location"] == "/register/sent"
    assert _user(app, "jana@example.com") is None
    link = mailed_link(lambda: maildir_messages(app), "jana@example.com", "register/confirm")
    response = submit(client, link, {})
    assert response.status_code == 302 and response.headers["Location"] == "/account/"
    user = _user(app, "jana@example.com")
    assert user.role == "owner"
    assert user.account.company_name == "Bäckerei Schmidt"
    assert user.password_hash.startswith("$argon2id$")
    page = client.get("/account/").get_data(as_text=True)  # the link logged the user in
    assert "Bäckerei Schmidt" in page and "Mein Konto" in page
    assert login(app.test_client(), "jana@example.com", PASSWORD).status_code == 302


def test_register_rejects_bad_fields_in_german(app, client):
    response = submit(
        client,
        "/register",
        {**NEW, "email": "kein-at", "password": "kurz", "first_name": "A\nB", "company_name": ""},
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Bitte geben Sie eine gültige E-Mail-Adresse ein." in body
    assert "Das Passwort muss 10 bis 200 Zeichen lang sein." in body
    assert "Steuerzeichen sind in diesem Feld nicht erlaubt." in body
    assert "Dieses Feld ist erforderlich." in body
    with app.app_context(), bind(app).connection_context():
        assert Account.select().count() == 0


def test_login_wrong_password_gives_same_message_as_unknown_address(client, owner):
    wrong = login(client, owner.email, "falsch-falsch-falsch").get_data(as_text=True)
    unknown = login(client, "niemand@example.com", PASSWORD).get_data(as_text=True)
    message = "E-Mail-Adresse oder Passwort ist falsch."
    assert message in wrong and message in unknown
    assert client.get("/account/").status_code == 302


def test_pages_require_login(client):
    for url in ("/account/", "/account/profile", "/account/company", "/account/users"):
        response = client.get(url)
        assert response.status_code == 302
        assert "/login" in response.headers["Location"]


def test_login_redirect_ignores_foreign_targets(client, owner):
    token_page = client.get("/login?next=//evil.example/x")
    assert token_page.status_code == 200
    response = submit(
        client, "/login?next=//evil.example/x", {"email": owner.email, "password": PASSWORD}
    )
    assert response.headers["Location"] == "/account/"


def test_profile_update_trims_and_saves(app, user_client, owner):
    response = submit(
        user_client,
        "/account/profile",
        {"first_name": "  Erika ", "last_name": "Musterfrau", "submit": "1"},
        prefix="profile-",
    )
    assert response.status_code == 302
    assert _user(app, owner.email).last_name == "Musterfrau"
    assert _user(app, owner.email).first_name == "Erika"


def test_profile_rejects_too_long_name_and_keeps_old_value(app, user_client, owner):
    response = submit(
        user_client,
        "/account/profile",
        {"first_name": "x" * 101, "last_name": "Y", "submit": "1"},
        prefix="profile-",
    )
    assert response.status_code == 422
    assert "Höchstens 100 Zeichen." in response.get_data(as_text=True)
    assert _user(app, owner.email).first_name == "Erika"


def test_change_email_requires_current_password(app, user_client, owner):
    response = submit(
        user_client,
        "/account/profile/email",
        {"new_email": "neu@example.com", "current_password": "falsch-falsch", "submit": "1"},
        prefix="email-",
        page="/account/profile",
    )
    assert response.status_code == 422
    assert "Das aktuelle Passwort ist falsch." in response.get_data(as_text=True)
    response = submit(
        user_client,
        "/account/profile/email",
        {"new_email": "neu@example.com", "current_password": PASSWORD, "submit": "1"},
        prefix="email-",
        page="/account/profile",
    )
    assert response.status_code == 302
    # the new address waits for its confirmation (tests/test_email_links.py)
    assert _user(app, "neu@example.com") is None and _user(app, owner.email).id == owner.id
    assert "Bestätigung ausstehend" in user_client.get("/account/profile").get_data(as_text=True)


def test_change_email_refuses_an_address_in_use(app, user_client, make_owner):
    other = make_owner("belegt@example.com", company="Andere GmbH")
    response = submit(
        user_client,
        "/account/profile/email",
        {"new_email": other.email, "current_password": PASSWORD, "submit": "1"},
        prefix="email-",
        page="/account/profile",
    )
    assert response.status_code == 422
    assert "Diese E-Mail-Adresse kann nicht verwendet werden." in response.get_data(as_text=True)


def test_company_data_with_mobile_number_in_e164(app, user_client, owner):
    response = submit(
        user_client,
        "/account/company",
        {
            "company_name": "Muster AG",
            "notification_email": "info@muster.de",
            "mobile_number": "0171 1234567",
        },
    )
    assert response.status_code == 302
    account = _user(app, owner.email).account
    assert account.mobile_number == "+491711234567"
    assert account.notification_email == "info@muster.de"
    assert account.company_name == "Muster AG"


def test_company_rejects_garbage_number_and_keeps_state(app, user_client, owner):
    response = submit(
        user_client,
        "/account/company",
        {"company_name": "Neu", "notification_email": "", "mobile_number": "abc123"},
    )
    assert response.status_code == 422
    assert "Bitte geben Sie eine gültige Mobilfunknummer ein." in response.get_data(as_text=True)
    assert _user(app, owner.email).account.company_name == "Muster GmbH"


def _invite(client, email, role="member"):
    return submit(
        client,
        "/account/users",
        {"first_name": "Max", "last_name": "Meier", "email": email, "role": role},
    )


def test_owner_invites_user_who_sets_password_by_link(app, user_client, roomy_owner):
    import mailbox
    import re
    from pathlib import Path

    assert _invite(user_client, "max@example.com").status_code == 302
    box = mailbox.Maildir(Path(app.config["KONTOR_INSTANCE_PATH"]) / "mail")
    [message] = list(box)
    assert message["To"] == "max@example.com"
    body = message.get_payload(decode=True).decode()
    link = re.search(r"http://localhost(/invitation/\S+)", body).group(1)
    invited = app.test_client()
    assert submit(invited, link, {"password": "ganz-neues-passwort"}).status_code == 302
    assert invited.get("/account/profile").status_code == 200
    # The link works once.
    again = app.test_client()
    response = submit(again, link, {"password": "noch-ein-passwort"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    member = app.test_client()
    assert login(member, "max@example.com", "ganz-neues-passwort").status_code == 302
    assert member.get("/account/users").status_code == 403
    assert "Benutzer</a>" not in member.get("/account/").get_data(as_text=True)


def test_member_cannot_change_company_data(app, member_client, owner):
    page = member_client.get("/account/company").get_data(as_text=True)
    assert "Nur Inhaber und Administratoren" in page
    response = submit(member_client, "/account/company", {"company_name": "Gekapert"})
    assert response.status_code == 403
    assert _user(app, owner.email).account.company_name == "Muster GmbH"


def test_invitation_link_is_on_the_configured_base_url_whatever_the_host(make_app):
    import mailbox
    from pathlib import Path

    from tests.conftest import upgrade

    app = make_app({"KONTOR_BASE_URL": "https://konto.example/app"})
    with app.app_context(), bind(app).connection_context():
        owner = register("Muster GmbH", "Erika", "Mustermann", "erika@example.com", PASSWORD)
    upgrade(app, owner.account)
    client = app.test_client()
    login(client, owner.email, PASSWORD)
    token = csrf_token(client, "/account/users")
    session = client.get_cookie("kontor_session").value
    client.set_cookie("kontor_session", session, domain="evil.example")
    response = client.post(
        "/account/users",
        data={
            "csrf_token": token,
            "first_name": "Max",
            "last_name": "Meier",
            "email": "max@example.com",
            "role": "member",
        },
        base_url="http://evil.example",
    )
    assert response.status_code == 302
    box = mailbox.Maildir(Path(app.config["KONTOR_INSTANCE_PATH"]) / "mail")
    [message] = list(box)
    body = message.get_payload(decode=True).decode()
    assert "evil.example" not in body
    assert "https://konto.example/app/invitation/" in body
