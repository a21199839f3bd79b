"""Flask-Mail for the operator's server (core.delivery.operator_server), with what Flask-Mail
verified TLS (also on the documented ``mail.send()`` path), a timeout, refused
recipients reported, a From address no display name can change; and the SMTP
rules both transports share: QUIT at the end, one AUTH attempt, a numeric Date."""

from __future__ import annotations

import re
import signal
import ssl
import subprocess

import flask_mail
import pytest

from core.contract.values import PermanentFailure, TemporaryFailure
from core.data.db import bind
from core.delivery import operator_server, smtp_client
from core.delivery.messages import address, build_message, system_sender
from core.delivery.outbox import queue_system_mail
from tests.support.process import ROOT, app_env, queue_worker, wait_until
from tests.support.smtp import start_smtp


def _message(to: str | list[str] = "kunde@example.com", name: str = "Muster GmbH"):
    return build_message(
        sender=address(name, "noreply@kontor.example"), to=to, subject="Grüße", text="Hallo"
    )


def test_app_mail_is_flask_mail_configured_from_kontor_settings(make_app, smtp_server):
    app = make_app(smtp_server.config())
    assert isinstance(operator_server.mail, flask_mail.Mail)
    assert app.config["MAIL_SERVER"] == "localhost"
    assert app.config["MAIL_PORT"] == smtp_server.port
    assert app.config["MAIL_USE_TLS"] is True and app.config["MAIL_USE_SSL"] is False
    assert app.config["MAIL_DEFAULT_SENDER"] == "noreply@kontor.example"


def test_certificate_from_the_configured_ca_passes(make_app, smtp_server):
    app = make_app(smtp_server.config())
    with app.app_context():
        assert operator_server.send(_message()) == {}
    [received] = smtp_server.inbox.messages
    assert received["To"] == "kunde@example.com"


@pytest.mark.parametrize("implicit_tls", [False, True])
def test_untrusted_certificate_is_refused(make_app, tmp_path, implicit_tls):
    server = start_smtp(tmp_path, implicit_tls=implicit_tls)
    try:
        # Without KONTOR_MAIL_CA_FILE the test CA is not trusted.
        config = {**server.config(), "KONTOR_MAIL_CA_FILE": ""}
        if implicit_tls:
            config.update(KONTOR_MAIL_USE_TLS="false", KONTOR_MAIL_USE_SSL="true")
        app = make_app(config)
        with app.app_context(), pytest.raises(PermanentFailure, match="Zertifikat"):
            operator_server.send(_message())
        assert server.inbox.messages == []
    finally:
        server.stop()


def test_documented_flask_mail_send_verifies_too(make_app, smtp_server):
    app = make_app({**smtp_server.config(), "KONTOR_MAIL_CA_FILE": ""})
    with app.app_context(), pytest.raises(ssl.SSLCertVerificationError):
        operator_server.mail.send(
            flask_mail.Message("Hallo", recipients=["kunde@example.com"], body="t")
        )
    assert smtp_server.inbox.messages == []


def test_a_server_that_never_answers_times_out(make_app, silent_port):
    app = make_app(
        {
            "KONTOR_MAIL_SERVER": "127.0.0.1",
            "KONTOR_MAIL_PORT": str(silent_port),
            "KONTOR_MAIL_TIMEOUT": "1",
        }
    )
    with app.app_context(), pytest.raises(TemporaryFailure, match="Zeitüberschreitung"):
        operator_server.send(_message())


def test_a_550_recipient_is_reported_while_the_others_get_the_mail(make_app, smtp_server):
    app = make_app(smtp_server.config())
    smtp_server.inbox.reject_rcpt["weg@example.com"] = "550 5.1.1 no such user"
    with app.app_context():
        refused = operator_server.send(_message(["da@example.com", "weg@example.com"]))
    assert refused == {"weg@example.com": (550, "")}
    [envelope] = smtp_server.inbox.envelopes
    assert envelope.rcpt_tos == ["da@example.com"]


@pytest.mark.parametrize(
    "name",
    [
        "Muster <evil@x.example>",
        "evil@x.example",
        "Muster, evil@x.example",
        'Muster", <evil@x.example>, "',
        "Muster\r\nFrom: evil@x.example",
        "Muster\u2028<evil@x.example>",
        "=?utf-8?q?evil=40x=2Eexample?= <evil@x.example>",
    ],
)
def test_a_hostile_display_name_cannot_change_the_from_address(make_app, smtp_server, name):
    app = make_app(smtp_server.config())
    with app.app_context():
        operator_server.send(_message(name=name))
    [received] = smtp_server.inbox.messages
    [envelope] = smtp_server.inbox.envelopes
    assert envelope.mail_from == "noreply@kontor.example"
    assert [a.addr_spec for a in received["From"].addresses] == ["noreply@kontor.example"]
    assert "evil" not in received["From"].addresses[0].addr_spec
    assert received.get_all("From") and len(received.get_all("From")) == 1


def test_envelope_sender_is_the_configured_address(make_app, smtp_server):
    app = make_app(smtp_server.config())
    with app.app_context():
        operator_server.send(_message())
    assert smtp_server.inbox.envelopes[0].mail_from == "noreply@kontor.example"


@pytest.mark.parametrize(
    "sender",
    ["Kontor <noreply@kontor.example>", "a@b.de, c@d.de", "noreply@kontor.example\nBcc: x@y.de"],
)
def test_default_sender_must_be_a_bare_address(make_app, sender):
    from core.config import ConfigError

    with pytest.raises(ConfigError, match="KONTOR_MAIL_DEFAULT_SENDER"):
        make_app({"KONTOR_MAIL_DEFAULT_SENDER": sender})


def test_date_has_a_numeric_zone(make_app, smtp_server):
    app = make_app(smtp_server.config())
    with app.app_context():
        message = build_message(sender=system_sender(), to="a@b.example", subject="s", text="t")
    assert re.search(r" [+-]\d{4}$", message["Date"]) and "GMT" not in message["Date"]


def test_the_session_ends_with_quit(make_app, smtp_server):
    app = make_app(smtp_server.config())
    with app.app_context():
        operator_server.send(_message())
    smtp_client.close_kept()  # as after the idle time, or when the worker stops
    assert smtp_server.inbox.quits == 1


def test_a_wrong_password_is_tried_once_and_the_session_quit(make_app, tmp_path):
    server = start_smtp(tmp_path, auth_login=True)  # offers PLAIN and LOGIN
    try:
        app = make_app({**server.config(), "KONTOR_MAIL_PASSWORD": "falsch"})
        with app.app_context(), pytest.raises(PermanentFailure, match="Anmeldung"):
            operator_server.send(_message())
        assert server.inbox.auth_attempts == 1
        assert server.inbox.quits == 1
    finally:
        server.stop()


def test_a_stopping_worker_ends_its_kept_session_with_quit(make_app, smtp_server, tmp_path):
    app = make_app({**smtp_server.config(), "KONTOR_QUEUE_URL": f"sqlite:///{tmp_path / 'q.db'}"})
    with app.app_context(), bind(app).connection_context():
        queue_system_mail(None, _message())
    worker = subprocess.Popen(
        queue_worker(1),
        env=app_env(app, **smtp_server.config()),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_until(lambda: len(smtp_server.inbox.messages) == 1)
        assert smtp_server.inbox.quits == 0  # the session is kept for the next mail
    finally:
        worker.send_signal(signal.SIGINT)  # huey's graceful stop
        worker.wait(timeout=60)
    assert wait_until(lambda: smtp_server.inbox.quits == 1)
