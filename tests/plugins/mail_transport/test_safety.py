"""SSRF guard, header safety, the service server, test mails and refusals."""

from __future__ import annotations

import re

import pytest

from core.data.db import bind
from plugins.mail_transport import guard
from plugins.mail_transport.presets import for_address
from tests.conftest import PASSWORD
from tests.support.mailservers import own_settings
from tests.support.web import AUTH, csrf_token, login, send_customer_mail, submit


@pytest.mark.parametrize(
    ("host", "port"),
    [
        ("127.0.0.1", 587),
        ("localhost", 587),
        ("10.1.2.3", 587),
        ("169.254.169.254", 587),
        ("::1", 587),
        ("[::1]", 993),
        ("::ffff:127.0.0.1", 587),
        ("2130706433", 587),
        ("100.64.0.1", 587),
        ("224.0.0.1", 587),
        ("0.0.0.0", 587),
        ("192.168.1.10", 993),
        ("fd00::1", 587),
        ("ip6-localhost", 587),
    ],
)
def test_internal_addresses_are_refused(host, port):
    with pytest.raises(guard.GuardError):
        guard.resolve(host, port, guard.SMTP_PORTS | guard.IMAP_PORTS, frozenset())


def test_ports_are_limited_unless_allow_listed():
    with pytest.raises(guard.GuardError, match="Port"):
        guard.resolve("localhost", 6379, guard.SMTP_PORTS, frozenset())
    assert guard.resolve("localhost", 6379, guard.SMTP_PORTS, frozenset({("localhost", 6379)})) in (
        "127.0.0.1",
        "::1",
    )


def test_public_address_passes():
    assert guard.resolve("8.8.8.8", 587, guard.SMTP_PORTS, frozenset()) == "8.8.8.8"


def test_form_refuses_internal_server_next_to_the_field(app, user_client, owner):
    response = submit(
        user_client, "/account/mail", own_settings(587, 993, smtp_host="169.254.169.254")
    )
    assert response.status_code == 422
    assert (
        "Dieser Server ist nicht erlaubt (interne oder reservierte Adresse)."
        in response.get_data(as_text=True)
    )
    response = submit(user_client, "/account/mail", own_settings(6379, 993, smtp_host="8.8.8.8"))
    assert response.status_code == 422
    assert "Dieser Port ist nicht erlaubt." in response.get_data(as_text=True)
    from plugins.mail_transport.models import MailSettings

    with app.app_context(), bind(app).connection_context():
        assert MailSettings.select().count() == 0


@pytest.mark.parametrize("name", ["Evil\r\nBcc: opfer@example.com", "Chef\nX: y"])
def test_display_name_with_newlines_is_a_form_error(user_client, name):
    response = submit(
        user_client,
        "/account/mail",
        {"mode": "service", "sender_name": name, "reply_to": "", "submit": "1"},
    )
    assert response.status_code == 422
    assert "Steuerzeichen sind in diesem Feld nicht erlaubt." in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "name", ["PayPal Service <service@paypal.com>", "service@paypal.com", "Bank <Kundendienst>"]
)
def test_display_name_that_looks_like_an_address_is_refused(app, user_client, name):
    from plugins.mail_transport.models import MailSettings

    response = submit(
        user_client,
        "/account/mail",
        {"mode": "service", "sender_name": name, "reply_to": "", "submit": "1"},
    )
    assert response.status_code == 422
    assert "Der Absendername darf keine E-Mail-Adresse enthalten." in response.get_data(
        as_text=True
    )
    with app.app_context(), bind(app).connection_context():
        assert MailSettings.select().count() == 0


def test_reply_to_list_is_refused(user_client):
    response = submit(
        user_client,
        "/account/mail",
        {"mode": "service", "sender_name": "", "reply_to": "a@b.de, c@d.de", "submit": "1"},
    )
    assert response.status_code == 422
    assert "gültige E-Mail-Adresse" in response.get_data(as_text=True)


def test_service_server_from_reply_to_and_name_in_quotes(make_app, owner, smtp_server):
    app = make_app(smtp_server.config())
    client = app.test_client()
    login(client, owner.email, PASSWORD)
    assert (
        submit(
            client,
            "/account/mail",
            {
                "mode": "service",
                "keep_history": "y",
                "sender_name": 'Müller & Söhne "Büro", Berlin',
                "reply_to": "buchhaltung@muster.de",
                "submit": "1",
            },
        ).status_code
        == 302
    )
    send_customer_mail(
        app.test_client(),
        owner.account_id,
        {
            "to": ["a@kunde.example", "b@kunde.example"],
            "subject": "Angebot",
            "text": "Hallo",
            "customer_ref": "K-7",
        },
    )
    [message] = smtp_server.inbox.messages
    [sender] = message["From"].addresses
    assert sender.addr_spec == "noreply@kontor.example"
    assert sender.display_name == 'Müller & Söhne "Büro", Berlin'
    assert message["Reply-To"] == "buchhaltung@muster.de"
    assert sorted(smtp_server.inbox.envelopes[0].rcpt_tos) == ["a@kunde.example", "b@kunde.example"]


def test_refused_recipients_are_recorded_one_by_one(make_app, owner, smtp_server):
    app = make_app(smtp_server.config())
    smtp_server.inbox.reject_rcpt["weg@kunde.example"] = "550 5.1.1 unknown"
    api = app.test_client()
    status = send_customer_mail(
        api,
        owner.account_id,
        {"to": ["da@kunde.example", "weg@kunde.example"], "subject": "S", "text": "T"},
    )
    assert status["status"] == "sent"
    by_address = {r["address"]: r for r in status["recipients"]}
    assert by_address["da@kunde.example"]["status"] == "sent"
    assert by_address["weg@kunde.example"]["status"] == "failed"
    assert by_address["weg@kunde.example"]["error"] == "Empfänger abgelehnt (SMTP 550)"


def test_permanent_failure_emits_delivery_failed(make_app, owner, smtp_server):
    from plugins.notifications.models import Delivery

    app = make_app(smtp_server.config())
    smtp_server.inbox.reject_rcpt["weg@kunde.example"] = "550 5.1.1 unknown"
    api = app.test_client()
    status = send_customer_mail(
        api, owner.account_id, {"to": "weg@kunde.example", "subject": "S", "text": "T"}
    )
    assert status["status"] == "failed"
    with app.app_context(), bind(app).connection_context():
        [row] = Delivery.select().where(Delivery.event_type == "mail.delivery_failed")
        assert row.target == owner.email


def test_bad_mail_requests_are_422(app, owner):
    api = app.test_client()
    url = f"/api/v1/accounts/{owner.account_id}/mails"
    for body in (
        {"to": "kein-at", "subject": "S", "text": "T"},
        {"to": "a@b.de", "subject": "S\r\nBcc: x@y.de", "text": "T"},
        {"to": [], "subject": "S", "text": "T"},
        {"to": "a@b.de", "subject": "S", "text": "T", "customer_ref": ""},
    ):
        assert api.post(url, headers=AUTH, json=body).status_code == 422
    assert (
        api.get(f"/api/v1/accounts/{owner.account_id}/mails/999", headers=AUTH).status_code == 404
    )


def test_test_mail_goes_to_own_address_and_is_rate_limited(make_app, owner, smtp_server):
    app = make_app(smtp_server.config())
    client = app.test_client()
    login(client, owner.email, PASSWORD)
    statuses = []
    for _ in range(6):
        token = csrf_token(client, "/account/mail")
        statuses.append(client.post("/account/mail/test", data={"csrf_token": token}).status_code)
    assert statuses == [302] * 5 + [429]
    assert {m["To"] for m in smtp_server.inbox.messages} == {owner.email}


def test_presets_fill_servers_from_domain(user_client):
    assert for_address("info@gmx.de").smtp_host == "mail.gmx.net"
    assert for_address("x@t-online.de").smtp_port == 465
    assert for_address("x@firma.example") is None
    response = submit(
        user_client, "/account/mail", {"mode": "own", "own_email": "chef@web.de", "preset": "1"}
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'value="imap.web.de"' in page and 'value="smtp.web.de"' in page
    assert "Servereinstellungen für WEB.DE eingetragen." in page


def test_member_cannot_change_mail_settings(member_client):
    response = submit(member_client, "/account/mail", {"mode": "service", "submit": "1"})
    assert response.status_code == 403


def test_member_sees_own_account_settings_only_when_it_is_the_chosen_way(
    app, member_client, roomy_owner
):
    from plugins.mail_transport import services

    page = member_client.get("/account/mail").get_data(as_text=True)
    assert "Nur Inhaber und Administratoren" in page
    assert "IMAP-Server" not in page and 'id="own-settings"' not in page
    with app.app_context(), bind(app).connection_context():
        row = services.settings(roomy_owner.account)
        row.mode = "own"
        row.save()
    page = member_client.get("/account/mail").get_data(as_text=True)
    assert 'id="own-settings"' in page and "IMAP-Server" in page


def _keep_history(app, owner):
    client = app.test_client()
    login(client, owner.email, PASSWORD)
    response = submit(
        client, "/account/mail", {"mode": "service", "keep_history": "y", "submit": "1"}
    )
    assert response.status_code == 302
    return client


def test_partly_refused_mail_is_partial_and_reports_the_refused_address(
    make_app, owner, smtp_server
):
    from core.data.models import Event
    from plugins.notifications.models import Delivery

    app = make_app(smtp_server.config())
    client = _keep_history(app, owner)
    smtp_server.inbox.reject_rcpt["weg@kunde.example"] = "550 5.1.1 unknown"
    status = send_customer_mail(
        app.test_client(),
        owner.account_id,
        {
            "to": ["da@kunde.example", "weg@kunde.example"],
            "subject": "Rechnung RE-9",
            "text": "T",
            "customer_ref": "K-9",
            "customer_name": "Muster Handel GmbH",
        },
    )
    assert status["customer_name"] == "Muster Handel GmbH"
    with app.app_context(), bind(app).connection_context():
        [row] = Delivery.select().where(Delivery.event_type == "mail.delivery_failed")
        data = Event.get_by_id(row.event_id).data
    assert data["Empfänger"] == "weg@kunde.example"
    assert data["Fehler"] == "Empfänger abgelehnt (SMTP 550)"
    assert data["Kunde"] == "K-9 Muster Handel GmbH"

    page = client.get("/account/mail/history/K-9").get_data(as_text=True)
    text = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert "E-Mail-Verlauf: Kunde K-9 – Muster Handel GmbH" in text
    assert "teilweise zugestellt" in text and ">gesendet<" not in page
    assert "weg@kunde.example nicht zugestellt : Empfänger abgelehnt (SMTP 550)" in text
    assert '<th scope="col">Message-ID</th>' not in page and "<details>" in page
    overview = client.get("/account/mail").get_data(as_text=True)
    assert "Kunde K-9</a> – Muster Handel GmbH" in overview


def test_history_notes_a_failed_sent_folder_copy(make_app, owner, smtp_server):
    from core.delivery.customer_mail import CustomerMail

    app = make_app(smtp_server.config())
    client = _keep_history(app, owner)
    send_customer_mail(
        app.test_client(),
        owner.account_id,
        {"to": "da@kunde.example", "subject": "S", "text": "T", "customer_ref": "K-1"},
    )
    with app.app_context(), bind(app).connection_context():
        CustomerMail.update(note="Kopie im Ordner „Gesendet“ fehlgeschlagen").execute()
    page = client.get("/account/mail/history/K-1").get_data(as_text=True)
    assert "Hinweis: Kopie im Ordner „Gesendet“ fehlgeschlagen" in page
    assert "teilweise" not in page


@pytest.mark.parametrize("name", ["", "   ", "A\x07B", "x" * 201, 7])
def test_bad_customer_names_are_422(app, owner, name):
    body = {"to": "a@b.de", "subject": "S", "text": "T", "customer_ref": "K", "customer_name": name}
    response = app.test_client().post(
        f"/api/v1/accounts/{owner.account_id}/mails", headers=AUTH, json=body
    )
    assert response.status_code == 422


def test_own_account_fields_are_disclosed_by_a_shipped_script(user_client):
    page = user_client.get("/account/mail").get_data(as_text=True)
    # The fields sit in one block the script hides while "Kontor-Mailserver" is chosen;
    # without the script the block stays in the page, fully usable.
    assert '<div id="own-settings" data-shown-when="mode=own">' in page
    assert 'src="/static/disclosure.js"' in page and "<script>" not in page
    block = page.split('id="own-settings"', 1)[1]
    assert 'name="smtp_host"' in block and 'name="connect"' in block
    assert "bei beiden Versandwegen" in page  # the reply-to hint says where it applies


def test_both_connect_buttons_share_one_limit(app, user_client):
    statuses = []
    for _ in range(10):
        token = csrf_token(user_client, "/account/mail")
        response = user_client.post("/account/mail/connect", data={"csrf_token": token})
        statuses.append(response.status_code)
    assert statuses == [302] * 10
    # Saving alone is not limited; "Verbinden" in the settings form is.
    saved = submit(user_client, "/account/mail", {"mode": "service", "submit": "1"})
    assert saved.status_code == 302
    refused = submit(user_client, "/account/mail", {"mode": "service", "connect": "1"})
    assert refused.status_code == 429
