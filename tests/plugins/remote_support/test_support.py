"""Remote support: consent, staff sessions, scope, revocation and the access log."""

from __future__ import annotations

import datetime as dt
import re

from core.data.db import bind, utcnow
from plugins.notifications.models import Delivery
from plugins.remote_support import services
from plugins.remote_support.models import AccessLog, Grant
from tests.conftest import PASSWORD
from tests.plugins.remote_support.conftest import STAFF_PASSWORD, grant_access, start_session
from tests.support.web import AUTH, csrf_token, login, submit

BANNER = "Support-Sitzung: Susi Support im Auftrag von Muster GmbH"


def _log(app, account_id):
    with app.app_context(), bind(app).connection_context():
        return [
            (e.actor, e.action, e.detail)
            for e in AccessLog.select()
            .where(AccessLog.account == account_id)
            .order_by(AccessLog.id)
        ]


def test_without_grant_staff_cannot_open_the_account(app, owner, staff_client):
    response = start_session(staff_client, owner.account_id)
    assert response.status_code == 403
    assert "keine Genehmigung zur Fernwartung" in response.get_data(as_text=True)
    assert staff_client.get("/account/").status_code == 302
    assert ("Susi Support", "denied", "Kein Zugriff ohne Genehmigung") in _log(
        app, owner.account_id
    )


def test_grant_shows_who_when_until_and_lists_account_for_staff(
    app, user_client, owner, staff_client
):
    assert grant_access(user_client, duration="24h").status_code == 302
    page = user_client.get("/account/support").get_data(as_text=True)
    assert "Erteilt von: Erika Mustermann" in page
    assert "Gültig bis" in page and "Vollzugriff" in page
    assert "Erika Mustermann hat die Genehmigung zur Fernwartung erteilt (Vollzugriff, bis " in page
    console = staff_client.get("/staff/").get_data(as_text=True)
    assert "Muster GmbH" in console


def test_console_lists_several_accounts_with_unique_ids_and_validity(
    app, user_client, owner, staff_client, make_owner
):
    grant_access(user_client, duration="24h", scope="read")
    other = make_owner("zweite@example.com", company="Zweite GmbH")
    second = app.test_client()
    login(second, other.email, PASSWORD)
    grant_access(second, duration="unlimited")
    console = staff_client.get("/staff/").get_data(as_text=True)
    ids = re.findall(r'\bid="([^"]+)"', console)
    assert len(ids) == len(set(ids)), ids
    assert console.count('name="csrf_token"') == 3  # logout and one start form per account
    assert '<th scope="col">Gültig</th>' in console
    assert re.search(r'data-label="Gültig">bis \d\d\.\d\d\.\d{4}', console)
    assert 'data-label="Gültig">bis auf Widerruf<' in console


def test_support_session_shows_banner_on_every_page(app, user_client, owner, staff_client):
    grant_access(user_client)
    response = start_session(staff_client, owner.account_id)
    assert response.status_code == 302
    for path in (
        "/account/",
        "/account/profile",
        "/account/company",
        "/account/notifications",
        "/account/support",
        "/account/subscription",
        "/account/mail",
    ):
        page = staff_client.get(path)
        assert page.status_code == 200, path
        assert BANNER in page.get_data(as_text=True), path
    log = _log(app, owner.account_id)
    assert ("Susi Support", "session_start", "Ticket 4711") in log


def test_session_start_emits_notification_event(app, user_client, owner, staff_client):
    grant_access(user_client)
    start_session(staff_client, owner.account_id)
    with app.app_context(), bind(app).connection_context():
        [row] = Delivery.select().where(Delivery.event_type == "support.session_started")
        assert row.channel == "email" and row.target == owner.email


def test_reason_is_required(app, user_client, owner, staff_client):
    grant_access(user_client)
    response = start_session(staff_client, owner.account_id, reason="  ")
    assert response.status_code == 422  # the console again, with the message
    body = response.get_data(as_text=True)
    assert "Bitte geben Sie einen Grund oder eine Ticketnummer an." in body
    assert "Sitzung starten" in body
    assert staff_client.get("/account/").status_code == 302


def test_revoke_ends_the_session_at_the_next_request(app, user_client, owner, staff_client):
    grant_access(user_client)
    start_session(staff_client, owner.account_id)
    assert staff_client.get("/account/").status_code == 200
    token = csrf_token(user_client, "/account/support")
    assert (
        user_client.post("/account/support/revoke", data={"csrf_token": token}).status_code == 302
    )
    response = staff_client.get("/account/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    actions = [a for _, a, _ in _log(app, owner.account_id)]
    assert actions[-2:] == ["session_end", "revoke"]


def test_expiry_ends_the_session(app, user_client, owner, staff_client):
    grant_access(user_client, duration="24h")
    start_session(staff_client, owner.account_id)
    assert staff_client.get("/account/").status_code == 200
    with app.app_context(), bind(app).connection_context():  # the clock moves on by a day
        Grant.update(expires_at=utcnow() - dt.timedelta(seconds=1)).execute()
    assert staff_client.get("/account/").status_code == 302
    with app.app_context(), bind(app).connection_context():
        assert services.expire_grants() == 1
        assert services.expire_grants() == 0
    actions = [a for _, a, _ in _log(app, owner.account_id)]
    assert actions[-2:] == ["session_end", "expire"]
    assert "Derzeit ist keine Genehmigung erteilt." in user_client.get("/account/support").get_data(
        as_text=True
    )


def test_writes_in_support_session_are_logged_with_staff_name(
    app, user_client, owner, staff_client
):
    grant_access(user_client)
    start_session(staff_client, owner.account_id)
    response = submit(
        staff_client,
        "/account/profile",
        {"first_name": "Erika", "last_name": "Musterfrau", "submit": "1"},
        prefix="profile-",
    )
    assert response.status_code == 302
    writes = [d for actor, action, d in _log(app, owner.account_id) if action == "write"]
    assert writes == ["core.profile"]  # starting the session is its own entry, not a write
    page = user_client.get("/account/support").get_data(as_text=True)
    assert "Susi Support hat die Nutzerdaten geändert." in page
    assert "Susi Support hat sich angemeldet (Grund: Ticket 4711)." in page
    assert "POST /" not in page and "/staff/sessions" not in page


def test_no_nested_sessions(app, user_client, owner, staff_client, make_owner):
    grant_access(user_client)
    start_session(staff_client, owner.account_id)
    assert start_session(staff_client, owner.account_id).status_code == 403


def test_staff_ends_session_and_returns_to_console(app, user_client, owner, staff_client):
    grant_access(user_client)
    start_session(staff_client, owner.account_id)
    token = csrf_token(staff_client, "/account/")
    response = staff_client.post("/support/end", data={"csrf_token": token})
    assert response.headers["Location"] == "/staff/"
    assert staff_client.get("/account/").status_code == 302
    assert staff_client.get("/staff/").status_code == 200


def test_member_cannot_grant_or_revoke(app, user_client, member_client, owner):
    page = member_client.get("/account/support").get_data(as_text=True)
    assert "Nur Inhaber und Administratoren" in page
    assert grant_access(member_client).status_code == 403
    grant_access(user_client)
    token = csrf_token(member_client, "/account/support")
    response = member_client.post("/account/support/revoke", data={"csrf_token": token})
    assert response.status_code == 403
    with app.app_context(), bind(app).connection_context():
        assert services.active_grant(owner.account_id) is not None


def _support_card(client) -> str:
    html = client.get("/account/").get_data(as_text=True)
    return re.search(
        r'<section[^>]*aria-labelledby="card-remote_support".*?</section>', html, re.S
    )[0]


def test_running_grant_asks_for_attention_only_from_who_can_end_it(
    app, user_client, member_client, owner
):
    grant_access(user_client)
    assert "Bitte prüfen" in _support_card(user_client)
    member_card = _support_card(member_client)
    assert "Genehmigung erteilt bis" in member_card
    assert "Bitte prüfen" not in member_card and "state-neutral" in member_card


def test_staff_login_refuses_wrong_or_replayed_totp(app, staff):
    client = app.test_client()
    wrong = submit(
        client,
        "/staff/login",
        {
            "email": staff.email,
            "password": STAFF_PASSWORD,
            "code": "000000" if staff.totp.now() != "000000" else "111111",
        },
    )
    assert wrong.status_code == 422
    assert "Anmeldung fehlgeschlagen" in wrong.get_data(as_text=True)
    code = staff.totp.now()
    assert (
        submit(
            client, "/staff/login", {"email": staff.email, "password": STAFF_PASSWORD, "code": code}
        ).status_code
        == 302
    )
    replay = submit(
        app.test_client(),
        "/staff/login",
        {"email": staff.email, "password": STAFF_PASSWORD, "code": code},
    )
    assert replay.status_code == 422


def test_staff_login_brute_force_is_throttled(app, staff):
    statuses = []
    for i in range(7):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"10.1.0.{i}"
        statuses.append(
            submit(
                client,
                "/staff/login",
                {"email": staff.email, "password": "falsch", "code": "123456"},
            ).status_code
        )
    assert statuses[:5] == [422] * 5 and statuses[5:] == [429, 429]


def test_customer_login_does_not_open_staff_console(user_client):
    assert user_client.get("/staff/").headers["Location"] == "/staff/login"


def test_support_access_api(app, user_client, owner):
    grant_access(user_client, scope="read")
    response = app.test_client().get(
        f"/api/v1/accounts/{owner.account_id}/support-access",
        headers=AUTH,
    )
    assert response.status_code == 200
    assert response.json["granted"] is True and response.json["grant"]["scope"] == "read"
    assert response.json["log"][0]["action"] == "grant"


def test_staff_create_command(app, runner):
    from core.cli import cli

    result = runner.invoke(
        cli,
        ["staff", "create", "neu@kontor.example", "--name", "Neu", "--password-stdin"],
        input="ein-langes-passwort\n",
    )
    assert result.exit_code == 0, result.output
    assert "otpauth://totp/Kontor%20Support:neu%40kontor.example?secret=" in result.output
    again = runner.invoke(
        cli,
        ["staff", "create", "neu@kontor.example", "--name", "Neu", "--password-stdin"],
        input="ein-langes-passwort\n",
    )
    assert again.exit_code != 0 and "exists already" in again.output


def test_staff_login_starts_a_fresh_session_and_form_token(app, staff):
    client = app.test_client()
    before = csrf_token(client, "/staff/login")
    with client.session_transaction() as session:
        session["planted"] = "vor der Anmeldung"
    response = submit(
        client,
        "/staff/login",
        {"email": staff.email, "password": STAFF_PASSWORD, "code": staff.totp.now()},
    )
    assert response.status_code == 302
    with client.session_transaction() as session:
        assert "planted" not in session
    stale = client.post("/staff/logout", data={"csrf_token": before})
    assert stale.status_code == 400
    assert client.get("/staff/").status_code == 200  # the stale token logged nobody out


def _forms(page):
    return re.findall(r'<form method="post" action="([^"]*)"', page)


def test_support_page_shows_one_control_per_decision(app, user_client, owner):
    """No grant: only the grant form. A grant: only the grant and its revoke button."""
    page = user_client.get("/account/support").get_data(as_text=True)
    assert _forms(page) == ["/logout", "/account/support"]
    assert "Derzeit ist keine Genehmigung erteilt." in page
    assert "Genehmigung widerrufen" not in page
    grant_access(user_client, duration="unlimited", scope="read")
    page = user_client.get("/account/support").get_data(as_text=True)
    assert _forms(page) == ["/logout", "/account/support/revoke"]
    assert "Umfang: Nur lesen" in page
    assert "Gültig: bis auf Widerruf" in page and "Gültig bis" not in page
    assert "Genehmigung widerrufen" in page and "Genehmigung erteilen" not in page


def test_access_log_reads_as_sentences(app, user_client, owner, staff_client):
    grant_access(user_client, scope="full")
    start_session(staff_client, owner.account_id)
    submit(staff_client, "/account/notifications", {"submit": "1"})
    staff_client.post("/support/end", data={"csrf_token": csrf_token(staff_client, "/account/")})
    with app.app_context(), bind(app).connection_context():
        # entries written before writes were logged by endpoint, and unknown ones
        services.log(owner.account_id, "Susi Support", "write", "POST /account/company")
        services.log(owner.account_id, "Susi Support", "write", "POST /nirgendwo")
        services.log(owner.account_id, "Susi Support", "write", "mail_transport.unknown")
    user_client.post(
        "/account/support/revoke", data={"csrf_token": csrf_token(user_client, "/account/support")}
    )
    page = user_client.get("/account/support").get_data(as_text=True)
    for text in (
        "Erika Mustermann hat die Genehmigung zur Fernwartung erteilt (Vollzugriff, bis ",
        "Susi Support hat sich angemeldet (Grund: Ticket 4711).",
        "Susi Support hat die Benachrichtigungseinstellungen geändert.",
        "Die Sitzung von Susi Support wurde beendet (Vom Support beendet).",
        "Susi Support hat die Firmendaten geändert.",
        "Susi Support hat eine Änderung vorgenommen.",
        "Susi Support hat im Bereich „E-Mail-Versand“ etwas geändert.",
        "Erika Mustermann hat die Genehmigung widerrufen.",
    ):
        assert text in page, text


# What the consent text says support can never do, for each sensitive action
# (kontor_sensitive_actions); entry pages and links are no change to an account.
NEVER_IN_WORDS = {
    r"remote_support\.(save|revoke)": "diese Genehmigung ändern oder verlängern",
    r"core\.(change_email|resend_email_change|cancel_email_change)": "E-Mail-Adressen",
    r"core\.change_password": "Passwörter",
    r"two_factor\.(enable|regenerate|disable|policy)": "Zwei-Faktor-Anmeldung",
    r"core\.(passkey_options|add_passkey|rename_passkey|remove_passkey)": "Passkeys",
    r"core\.(logout_others|end_user_session)": "Sitzungen von Benutzern",
    r"core\.(users|remove_user)": "Benutzer einladen oder entfernen",
    r"core\.company": "E-Mail-Adresse für Benachrichtigungen und die Mobilfunknummer",
    r"subscriptions\.billing": "die Abrechnungsinformationen ändern",
    r"subscriptions\.(confirm_change|withdraw)": "den Tarif wechseln",
    r"subscriptions\.(cancel|undo_cancel)": "das Abonnement kündigen",
    r"mail_transport\.(save|connect)": "Zugangsdaten zum Mailserver",
    r"core\.request_export": "Ihre Daten exportieren",
    r"core\.(close_account|undo_close_account)": "das Konto schließen",
}
NO_ACCOUNT_CHANGE = re.compile(
    r"core\.(login|register|accept_invitation|forgot_password|reset_password|resend_sign_up"
    r"|confirm_sign_up|confirm_email|passkey_login_options|passkey_login"
    r"|two_factor_passkey_options|two_factor_passkey)|two_factor\.login"
    r"|remote_support\.staff_login"
)


def test_consent_text_names_every_action_support_can_never_take(app, user_client):
    page = user_client.get("/account/support").get_data(as_text=True)
    never = page[page.index('id="nie-erlaubt"') : page.index("</ul>", page.index("nie-erlaubt"))]
    pm = app.extensions["kontor"].pm
    endpoints = [a.endpoint for r in pm.hook.kontor_sensitive_actions() for a in r or ()]
    for endpoint in endpoints:
        if NO_ACCOUNT_CHANGE.fullmatch(endpoint):
            continue
        words = [w for pattern, w in NEVER_IN_WORDS.items() if re.fullmatch(pattern, endpoint)]
        assert words, f"{endpoint} is never allowed to support, but the text does not say so"
        assert words[0] in never, (endpoint, words[0])
