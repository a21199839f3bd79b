"""Core mail: operator server over verified STARTTLS with AUTH, Maildir fallback,
header-safe addresses, and a real huey consumer delivering from the outbox."""

from __future__ import annotations

from email import message_from_string, policy

import pytest

from core.contract.values import PermanentFailure, TemporaryFailure
from core.data.db import bind
from core.delivery import operator_server
from core.delivery.messages import address, build_message
from core.delivery.outbox import MailOutbox
from tests.conftest import PASSWORD
from tests.support.process import maildir_messages, run_worker_until
from tests.support.web import invite, login


def _message(to="kunde@example.com"):
    return build_message(
        sender=address("Muster GmbH", "noreply@kontor.example"),
        to=to,
        subject="Grüße",
        text="Hallo Welt",
    )


def test_operator_server_with_starttls_and_auth(make_app, smtp_server):
    app = make_app(smtp_server.config())
    with app.app_context():
        refused = operator_server.send(_message())
    assert refused == {}
    [received] = smtp_server.inbox.messages
    assert received["From"] == "Muster GmbH <noreply@kontor.example>"
    assert received["Subject"] == "Grüße"


def test_untrusted_certificate_is_refused(make_app, smtp_server):
    config = {**smtp_server.config(), "KONTOR_MAIL_CA_FILE": ""}
    app = make_app(config)
    with app.app_context(), pytest.raises(PermanentFailure, match="Zertifikat"):
        operator_server.send(_message())
    assert smtp_server.inbox.messages == []


def test_wrong_password_is_permanent(make_app, smtp_server):
    app = make_app({**smtp_server.config(), "KONTOR_MAIL_PASSWORD": "falsch"})
    with app.app_context(), pytest.raises(PermanentFailure, match="Anmeldung"):
        operator_server.send(_message())


def test_server_down_is_temporary(make_app):
    from tests.support.smtp import free_port

    app = make_app({"KONTOR_MAIL_SERVER": "127.0.0.1", "KONTOR_MAIL_PORT": str(free_port())})
    with app.app_context(), pytest.raises(TemporaryFailure):
        operator_server.send(_message())


def test_rejected_recipient_is_permanent_and_4xx_is_temporary(make_app, smtp_server):
    app = make_app(smtp_server.config())
    smtp_server.inbox.reject_rcpt["weg@example.com"] = "550 no such user"
    with app.app_context():
        with pytest.raises(PermanentFailure, match="550"):
            operator_server.send(_message("weg@example.com"))
        smtp_server.inbox.data_reply = "451 try again later"
        with pytest.raises(TemporaryFailure, match="451"):
            operator_server.send(_message())


@pytest.mark.parametrize(
    "name", ["Evil\r\nBcc: opfer@example.com", "Name <evil@example.com>", 'x", evil@x.de']
)
def test_display_name_cannot_change_the_address(name):
    try:
        sender = address(name, "noreply@kontor.example")
    except PermanentFailure:
        return  # refused outright is safe too
    message = build_message(sender=sender, to="kunde@example.com", subject="s", text="t")
    raw = message.as_string()
    assert "\nBcc:" not in raw
    received = message_from_string(raw, policy=policy.default)  # as a mail client reads it
    assert [a.addr_spec for a in received["From"].addresses] == ["noreply@kontor.example"]


def test_message_reads_back_as_composed():
    message = build_message(
        sender=address("Müller & Söhne, Köln", "noreply@kontor.example"),
        to=["kunde@example.com", "buchhaltung@example.com"],
        subject="Ihre Rechnung über 1.234,56 € – bitte prüfen " * 3,
        text="Guten Tag,\n\nÄnderungen: ß, €, ü.\n" + "lange Zeile " * 40,
        html="<p>Guten Tag, <b>Änderungen</b></p>",
        reply_to=address("", "antwort@example.com"),
        headers={"Auto-Submitted": "auto-generated"},
    )
    raw = message.as_bytes()
    assert raw.isascii() and max(len(line) for line in raw.splitlines()) <= 998
    received = message_from_string(raw.decode(), policy=policy.default)
    [sender] = received["From"].addresses
    assert (sender.display_name, sender.addr_spec) == (
        "Müller & Söhne, Köln",
        "noreply@kontor.example",
    )
    assert [a.addr_spec for a in received["To"].addresses] == [
        "kunde@example.com",
        "buchhaltung@example.com",
    ]
    assert received["Reply-To"] == "antwort@example.com"
    assert received["Subject"] == "Ihre Rechnung über 1.234,56 € – bitte prüfen " * 3
    assert received["Date"].datetime is not None and received["Message-ID"].endswith(
        "kontor.example>"
    )
    assert received["Auto-Submitted"] == "auto-generated"
    # policy.SMTP writes CRLF line ends, as on the wire
    text = received.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert (
        text.startswith("Guten Tag,\n\nÄnderungen: ß, €, ü.\n") and text.count("lange Zeile") == 40
    )
    assert "<b>Änderungen</b>" in received.get_body(("html",)).get_content()


def test_international_addresses_are_delivered(make_app, smtp_server):
    app = make_app(smtp_server.config())
    sender = address("Müller GmbH", "noreply@kontor.example")
    with app.app_context():
        for to in ("info@müller.de", "büro@straße.de"):
            operator_server.send(
                build_message(sender=sender, to=to, subject="Grüße", text="Hallo"),
            )
    idn = smtp_server.inbox.messages[0]
    first, second = smtp_server.inbox.envelopes
    assert first.rcpt_tos == ["info@xn--mller-kva.de"] and idn["To"] == "info@xn--mller-kva.de"
    assert idn["From"].addresses[0].display_name == "Müller GmbH"
    # IDNA 2008 keeps ß; a local part with umlauts travels as UTF-8 with SMTPUTF8,
    # and so do its headers (RFC 6532).
    assert second.rcpt_tos == ["büro@xn--strae-oqa.de"] and "SMTPUTF8" in second.mail_options
    eai = message_from_string(second.content.decode("utf-8"), policy=policy.default)
    assert eai["To"] == "büro@xn--strae-oqa.de" and eai["Subject"] == "Grüße"
    assert eai["From"].addresses[0].display_name == "Müller GmbH"


def test_utf8_local_part_needs_a_server_with_smtputf8(make_app, tmp_path):
    from tests.support.smtp import start_smtp

    server = start_smtp(tmp_path / "plain", smtputf8=False)
    try:
        app = make_app(server.config())
        message = build_message(
            sender=address("", "noreply@kontor.example"),
            to="büro@example.com",
            subject="s",
            text="t",
        )
        with app.app_context(), pytest.raises(PermanentFailure, match="Umlauten vor dem @"):
            operator_server.send(message)
        assert server.inbox.messages == []
    finally:
        server.stop()


@pytest.mark.parametrize(
    "headers", [{"X-Info": "a\r\nBcc: opfer@example.com"}, {"X-Info\nBcc": "x"}, {"X Info": "x"}]
)
def test_extra_header_cannot_inject_lines(headers):
    with pytest.raises(PermanentFailure):
        build_message(
            sender=address("", "a@b.de"), to="c@d.de", subject="s", text="t", headers=headers
        )


def test_subject_with_newline_is_refused():
    with pytest.raises(PermanentFailure):
        build_message(sender=address("", "a@b.de"), to="c@d.de", subject="x\nBcc: e@f.de", text="t")


def test_real_huey_consumer_delivers_invitation(make_app, roomy_owner, tmp_path):
    owner = roomy_owner
    app = make_app({"KONTOR_QUEUE_URL": f"sqlite:///{tmp_path / 'queue.db'}"})
    client = app.test_client()
    login(client, owner.email, PASSWORD)
    assert invite(client).status_code == 302
    assert maildir_messages(app) == []  # not sent in the request

    assert run_worker_until(app, lambda: len(maildir_messages(app)) == 1)
    [message] = maildir_messages(app)
    assert message["To"] == "max@example.com"
    with app.app_context(), bind(app).connection_context():
        [row] = MailOutbox.select()
        assert row.status == "sent" and row.attempts == 1


def test_kept_connection_is_replaced_when_the_server_went_away(make_app, tmp_path):
    from tests.support.smtp import certificate_authority, start_smtp

    ca, _ = certificate_authority(tmp_path)
    first = start_smtp(tmp_path, ca=ca)
    app = make_app(first.config())
    with app.app_context():
        operator_server.send(_message())
    first.stop()
    second = start_smtp(tmp_path, port=first.port, ca=ca)
    try:
        with app.app_context():
            operator_server.send(_message())  # the kept connection is dead: reconnect once
        assert len(second.inbox.messages) == 1
    finally:
        second.stop()
