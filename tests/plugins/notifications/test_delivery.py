"""Delivery by e-mail (aiosmtpd with STARTTLS and AUTH) and SMS (a real HTTP
gateway), with the reliability rules of the spec."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from core.data.accounts import update_company
from core.data.db import bind, utcnow
from core.data.models import Account
from core.delivery.events import emit
from plugins.notifications import services
from plugins.notifications.models import Delivery
from tests.support.smtp import free_port, start_smtp
from tests.support.web import AUTH, submit


@pytest.fixture
def mail_app(make_app, smtp_server, sms_gateway):
    return make_app(
        {
            **smtp_server.config(),
            "KONTOR_SMS_GATEWAY_URL": sms_gateway.url,
            "KONTOR_SMS_GATEWAY_TOKEN": "gw-token",
        }
    )


def _in(app):
    return app.app_context(), bind(app).connection_context()


def _rows(app):
    with app.app_context(), bind(app).connection_context():
        return list(Delivery.select().order_by(Delivery.id))


def _set_company(app, owner, mobile=None, email="info@muster.de"):
    with app.app_context(), bind(app).connection_context():
        update_company(Account.get_by_id(owner.account_id), "Muster GmbH", email, mobile)


def test_quote_accepted_arrives_as_german_mail(mail_app, owner, smtp_server):
    _set_company(mail_app, owner)
    client = mail_app.test_client()
    response = client.post(
        f"/api/v1/accounts/{owner.account_id}/events",
        headers=AUTH,
        json={"type": "quote.accepted", "data": {"Angebot": "AN-1001"}},
    )
    assert response.status_code == 202
    assert response.json["deliveries"] == [
        {"channel": "email", "target": "info@muster.de", "status": "pending"}
    ]
    [message] = smtp_server.inbox.messages
    assert message["To"] == "info@muster.de"
    assert message["Subject"] == "Kontor: Angebot angenommen: AN-1001"
    text = message.get_body(("plain",)).get_content()
    assert "in Ihrem Konto Muster GmbH gibt es Neuigkeiten: Angebot angenommen: AN-1001." in text
    assert "Angebot: AN-1001" in text
    assert message.get_body(("html",)) is not None
    [row] = _rows(mail_app)
    assert row.status == "sent" and row.attempts == 1


def test_sms_reaches_gateway_with_e164_number(mail_app, user_client, owner, sms_gateway):
    _set_company(mail_app, owner, mobile="+491711234567")
    submit(user_client, "/account/notifications", {"quote_accepted__sms": "y"})
    with mail_app.app_context(), bind(mail_app).connection_context():
        emit(Account.get_by_id(owner.account_id), "quote.accepted", {})
    [call] = sms_gateway.requests
    assert call["json"]["to"] == "+491711234567"
    assert call["json"]["text"] == "Kontor: Angebot angenommen"
    assert call["headers"]["Authorization"] == "Bearer gw-token"
    assert [r.status for r in _rows(mail_app)] == ["sent"]


def test_missing_mobile_number_is_skipped_not_an_error(mail_app, user_client, owner, sms_gateway):
    submit(user_client, "/account/notifications", {"quote_accepted__sms": "y"})
    with mail_app.app_context(), bind(mail_app).connection_context():
        result = emit(Account.get_by_id(owner.account_id), "quote.accepted", {})
    assert [(d.channel, d.status) for d in result.deliveries] == [("sms", "skipped")]
    assert sms_gateway.requests == []
    page = user_client.get("/account/notifications").get_data(as_text=True)
    assert "übersprungen" in page and "Keine Mobilfunknummer hinterlegt" in page


def _make_due(app):
    with app.app_context(), bind(app).connection_context():
        Delivery.update(next_attempt_at=utcnow() - dt.timedelta(seconds=1)).execute()


def test_smtp_down_then_up_is_delivered_exactly_once(make_app, owner, tmp_path):
    port = free_port()
    down = {
        "KONTOR_MAIL_SERVER": "localhost",
        "KONTOR_MAIL_PORT": str(port),
        "KONTOR_MAIL_USE_TLS": "true",
        "KONTOR_MAIL_USERNAME": "kontor",
        "KONTOR_MAIL_PASSWORD": "smtp-geheim",
        "KONTOR_MAIL_CA_FILE": str(tmp_path / "ca.pem"),
    }
    app = make_app(down)
    with app.app_context(), bind(app).connection_context():
        emit(Account.get_by_id(owner.account_id), "quote.accepted", {})
    [row] = _rows(app)
    assert row.status == "pending" and row.attempts == 1
    assert row.error == "Mailserver nicht erreichbar."
    assert row.next_attempt_at > utcnow()

    server = start_smtp(tmp_path, port=port)
    try:
        _make_due(app)
        with app.app_context(), bind(app).connection_context():
            services.deliver(row.id)
            services.deliver(row.id)  # a redelivery of the same job
            assert services.sweep() == 0
        assert len(server.inbox.messages) == 1
        [row] = _rows(app)
        assert row.status == "sent" and row.attempts == 2
    finally:
        server.stop()


def test_smtp_550_fails_without_retry_and_shows_in_log(mail_app, owner, user_client, smtp_server):
    _set_company(mail_app, owner, email="weg@example.com")
    smtp_server.inbox.reject_rcpt["weg@example.com"] = "550 5.1.1 mailbox unavailable"
    with mail_app.app_context(), bind(mail_app).connection_context():
        emit(Account.get_by_id(owner.account_id), "dunning.sent", {})
    [row] = _rows(mail_app)
    assert row.status == "failed" and row.attempts == 1
    _make_due(mail_app)
    with mail_app.app_context(), bind(mail_app).connection_context():
        services.deliver(row.id)
        assert services.sweep() == 0
    assert _rows(mail_app)[0].attempts == 1
    page = user_client.get("/account/notifications").get_data(as_text=True)
    # The reason stands under the status, in the same cell (no column that is empty for most rows).
    assert re.search(
        r'<td><span class="status-failed">fehlgeschlagen</span><p class="hint">'
        r"Empfänger abgelehnt \(SMTP 550\)",
        page,
    )
    assert ">Hinweis</th>" not in page


def test_gateway_503_then_200(mail_app, user_client, owner, sms_gateway):
    _set_company(mail_app, owner, mobile="0171 1234567")
    submit(user_client, "/account/notifications", {"tan_due__sms": "y"})
    sms_gateway.statuses = [503]
    with mail_app.app_context(), bind(mail_app).connection_context():
        emit(Account.get_by_id(owner.account_id), "tan.due", {})
    [row] = _rows(mail_app)
    assert row.status == "pending" and "HTTP 503" in row.error
    _make_due(mail_app)
    with mail_app.app_context(), bind(mail_app).connection_context():
        services.deliver(row.id)
    assert len(sms_gateway.requests) == 2
    assert _rows(mail_app)[0].status == "sent"


def test_gateway_400_is_permanent(mail_app, user_client, owner, sms_gateway):
    _set_company(mail_app, owner, mobile="0171 1234567")
    submit(user_client, "/account/notifications", {"tan_due__sms": "y"})
    sms_gateway.statuses = [400]
    with mail_app.app_context(), bind(mail_app).connection_context():
        emit(Account.get_by_id(owner.account_id), "tan.due", {})
    assert _rows(mail_app)[0].status == "failed"


def test_opt_out_after_queueing_wins(make_app, owner, smtp_server, tmp_path):
    app = make_app(
        {**smtp_server.config(), "KONTOR_QUEUE_URL": f"sqlite:///{tmp_path / 'q.db'}"}
    )  # not run at once
    with app.app_context(), bind(app).connection_context():
        account = Account.get_by_id(owner.account_id)
        emit(account, "quote.accepted", {})
        services.save_preferences(account, [])
        [row] = Delivery.select()
        services.deliver(row.id)
    assert smtp_server.inbox.messages == []
    [row] = _rows(app)
    assert row.status == "skipped" and row.error == "Nach dem Einreihen abbestellt"


def test_retries_give_up_after_the_last_delay(make_app, owner):
    app = make_app({"KONTOR_MAIL_SERVER": "127.0.0.1", "KONTOR_MAIL_PORT": str(free_port())})
    with app.app_context(), bind(app).connection_context():
        emit(Account.get_by_id(owner.account_id), "quote.accepted", {})
    for _ in range(10):
        _make_due(app)
        with app.app_context(), bind(app).connection_context():
            services.deliver(_rows(app)[0].id)
    [row] = _rows(app)
    assert row.status == "failed" and row.attempts == 7


def test_sweep_requeues_forgotten_rows(make_app, owner, smtp_server, tmp_path):
    app = make_app({**smtp_server.config(), "KONTOR_QUEUE_URL": f"sqlite:///{tmp_path / 'q.db'}"})
    with app.app_context(), bind(app).connection_context():
        emit(Account.get_by_id(owner.account_id), "quote.accepted", {})
        assert services.sweep() == 0  # not yet overdue
        Delivery.update(next_attempt_at=utcnow() - dt.timedelta(minutes=5)).execute()
        assert services.sweep() == 1
    queue = app.extensions["kontor"].queue.huey
    assert queue.pending_count() == 2  # the original enqueue and the sweep's


def test_delivery_log_api(mail_app, owner):
    _set_company(mail_app, owner)
    client = mail_app.test_client()
    client.post(
        f"/api/v1/accounts/{owner.account_id}/events", headers=AUTH, json={"type": "quote.accepted"}
    )
    response = client.get(f"/api/v1/accounts/{owner.account_id}/notifications", headers=AUTH)
    assert response.status_code == 200
    [entry] = response.json["deliveries"]
    assert entry["event_type"] == "quote.accepted" and entry["status"] == "sent"
    assert entry["target"] == "info@muster.de"
    bad = client.get(f"/api/v1/accounts/{owner.account_id}/notifications?per_page=0", headers=AUTH)
    assert bad.status_code == 422


def test_test_notification_goes_to_own_target_and_is_rate_limited(mail_app, owner, smtp_server):
    from tests.conftest import PASSWORD
    from tests.support.web import login

    client = mail_app.test_client()
    login(client, owner.email, PASSWORD)
    statuses = [
        submit(client, "/account/notifications/test", {"channel": "email"}).status_code
        for _ in range(11)
    ]
    assert statuses == [302] * 10 + [429]
    assert {m["To"] for m in smtp_server.inbox.messages} == {owner.email}
    assert len(smtp_server.inbox.messages) == 10
    bad = submit(client, "/account/notifications/test", {"channel": "fax"})
    assert bad.status_code == 429


def test_invalid_channel_for_test_message_is_a_form_error(user_client):
    response = submit(user_client, "/account/notifications/test", {"channel": "fax"})
    assert response.status_code == 422
    assert "Keine gültige Auswahl" in response.get_data(as_text=True)


def test_log_is_paginated(app, owner, user_client):
    with app.app_context(), bind(app).connection_context():
        account = Account.get_by_id(owner.account_id)
        for i in range(25):
            emit(account, "dunning.sent", {"n": i})
    first = user_client.get("/account/notifications").get_data(as_text=True)
    assert "Ältere" in first and "Neuere" not in first
    second = user_client.get("/account/notifications?page=2").get_data(as_text=True)
    assert "Neuere" in second and "Ältere" not in second
    assert user_client.get("/account/notifications?page=abc").status_code == 200


def test_subject_names_one_event_in_the_singular(app, owner):
    with app.app_context():
        assert services.render("quote.accepted", {}, owner.account).subject == (
            "Kontor: Angebot angenommen"
        )
        dunning = services.render("dunning.sent", {"Rechnung": "RE-7"}, owner.account)
    assert dunning.subject == "Kontor: Mahnung gesendet: RE-7"


def test_delivery_log_reloads_itself_only_while_something_is_pending(
    make_app, owner, smtp_server, tmp_path
):
    from tests.conftest import PASSWORD
    from tests.support.web import login

    app = make_app({**smtp_server.config(), "KONTOR_QUEUE_URL": f"sqlite:///{tmp_path / 'q.db'}"})
    _set_company(app, owner)
    client = app.test_client()
    login(client, owner.email, PASSWORD)
    with app.app_context(), bind(app).connection_context():
        emit(Account.get_by_id(owner.account_id), "quote.accepted", {"Angebot": "AN-1"})
    page = client.get("/account/notifications").get_data(as_text=True)
    assert '<meta http-equiv="refresh" content="5">' in page
    assert "diese Seite aktualisiert sich alle 5 Sekunden" in page
    with app.app_context(), bind(app).connection_context():
        services.deliver(_rows(app)[0].id)
    page = client.get("/account/notifications").get_data(as_text=True)
    assert "http-equiv" not in page and "gesendet" in page
    assert "<td>Angebot angenommen: AN-1</td>" in page  # the log names the event itself
