"""Own SMTP/IMAP account against real aiosmtpd and Dovecot: Verbinden, sending
with a copy in Sent, history, and each failure with its German message."""

from __future__ import annotations

import base64
import hashlib
import imaplib
import re
import ssl

import pytest

from core.data.db import bind
from plugins.mail_transport.models import MailSettings
from tests.support.mailservers import OWN_EMAIL, OWN_PASSWORD, allowed, own_settings
from tests.support.smtp import free_port, start_smtp
from tests.support.web import AUTH, csrf_token, send_customer_mail, submit


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))


@pytest.fixture
def mail_app(make_app, ca, own_smtp, dovecot):
    return _mail_app(make_app, ca, own_smtp.port, dovecot.imaps_port, dovecot.imap_port)


@pytest.fixture
def client(mail_app, owner):
    from tests.conftest import PASSWORD
    from tests.support.web import login

    c = mail_app.test_client()
    login(c, owner.email, PASSWORD)
    return c


def _mail_app(make_app, ca, *ports, timeout="15"):
    """An app that trusts the test CA and may reach the given local ports."""
    return make_app(
        {
            "KONTOR_MAIL_CA_FILE": ca.path,
            "KONTOR_MAIL_TIMEOUT": timeout,
            "KONTOR_MAIL_ALLOWED_HOSTS": allowed(*ports),
        }
    )


def _connect(client):
    token = csrf_token(client, "/account/mail")
    response = client.post("/account/mail/connect", data={"csrf_token": token})
    assert response.status_code == 302
    return _text(client.get("/account/mail").get_data(as_text=True))


def _settings(app, account_id):
    with app.app_context(), bind(app).connection_context():
        return MailSettings.get(MailSettings.account == account_id)


def _sent_folder(dovecot) -> list[bytes]:
    ctx = ssl.create_default_context(cafile=str(dovecot.base.parent / "own-ca.pem"))
    conn = imaplib.IMAP4_SSL("localhost", dovecot.imaps_port, ssl_context=ctx)
    conn.login(OWN_EMAIL, OWN_PASSWORD)
    conn.select("Sent", readonly=True)
    _, data = conn.search(None, "ALL")
    messages = [conn.fetch(num, "(RFC822)")[1][0][1] for num in data[0].split()]
    conn.logout()
    return messages


def test_connect_send_and_copy_to_sent(mail_app, client, owner, own_smtp, dovecot):
    values = own_settings(own_smtp.port, dovecot.imaps_port, reply_to="antwort@kunde.example")
    response = submit(client, "/account/mail", values)
    assert response.status_code == 302, _text(response.get_data(as_text=True))
    assert not _settings(mail_app, owner.account_id).own_active  # not before Verbinden
    # "Verbinden" in the settings form saves and starts the check in one step.
    values = {**values, "submit": None, "connect": "Verbinden", "sender_name": "Muster GmbH"}
    response = submit(client, "/account/mail", {k: v for k, v in values.items() if v})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/account/mail#verbinden")
    text = _text(client.get("/account/mail").get_data(as_text=True))
    for label in (
        "SMTP-Server erreichbar: erfolgreich",
        "SMTP: Verschlüsselung mit gültigem Zertifikat: erfolgreich",
        "SMTP: Anmeldung: erfolgreich",
        "IMAP-Server erreichbar: erfolgreich",
        "IMAP: Verschlüsselung mit gültigem Zertifikat: erfolgreich",
        "IMAP: Anmeldung: erfolgreich",
        "Ordner für gesendete E-Mails gefunden: erfolgreich",
    ):
        assert label in text
    assert "Aktiver Versandweg: Eigenes E-Mail-Konto" in text
    settings = _settings(mail_app, owner.account_id)
    assert settings.own_active and settings.sent_folder == "Sent"
    sub_page = _text(client.get("/account/subscription").get_data(as_text=True))
    assert "Aktiver Versandweg: Eigenes E-Mail-Konto" in sub_page

    api = mail_app.test_client()
    status = send_customer_mail(
        api,
        owner.account_id,
        {
            "to": "rechnung@kunde.example",
            "subject": "Ihre Rechnung RE-1",
            "text": "Guten Tag, anbei Ihre Rechnung.",
            "customer_ref": "K-100",
        },
    )
    [message] = own_smtp.inbox.messages
    assert message["From"] == f"Muster GmbH <{OWN_EMAIL}>"
    assert message["Reply-To"] == "antwort@kunde.example"  # applies to the own account too
    assert message["To"] == "rechnung@kunde.example"
    [copy] = _sent_folder(dovecot)
    assert b"Ihre Rechnung RE-1" in copy

    assert status["status"] == "sent" and status["transport"] == "own"
    assert status["message_id"] == message["Message-ID"] and status["note"] is None
    hist = api.get(f"/api/v1/accounts/{owner.account_id}/customers/K-100/emails", headers=AUTH).json
    assert [m["subject"] for m in hist["emails"]] == ["Ihre Rechnung RE-1"]
    page = _text(client.get("/account/mail/history/K-100").get_data(as_text=True))
    assert "Ihre Rechnung RE-1" in page and "rechnung@kunde.example" in page


def _check(app, owner, smtp_port, imap_port, **overrides):
    """Save settings through the form and press Verbinden; return the page text."""
    from tests.conftest import PASSWORD
    from tests.support.web import login

    client = app.test_client()
    login(client, owner.email, PASSWORD)
    response = submit(client, "/account/mail", own_settings(smtp_port, imap_port, **overrides))
    assert response.status_code == 302, _text(response.get_data(as_text=True))
    return _connect(client)


def test_wrong_password(mail_app, owner, own_smtp, dovecot):
    text = _check(mail_app, owner, own_smtp.port, dovecot.imaps_port, password="falsch-falsch")
    assert (
        "SMTP: Anmeldung: fehlgeschlagen – Anmeldung fehlgeschlagen: Benutzername oder "
        "Passwort ist falsch." in text
    )
    assert "IMAP-Server erreichbar: übersprungen" in text
    assert not _settings(mail_app, owner.account_id).own_active


def test_wrong_password_counts_once_and_the_check_ends_with_quit(
    make_app, owner, tmp_path, dovecot, ca
):
    # A server offering PLAIN and LOGIN: smtplib's login() would try both.
    both = start_smtp(
        tmp_path / "both", ca=ca, credentials=(OWN_EMAIL, OWN_PASSWORD), auth_login=True
    )
    try:
        app = _mail_app(make_app, ca, both.port, dovecot.imaps_port)
        text = _check(app, owner, both.port, dovecot.imaps_port, password="falsch-falsch")
    finally:
        both.stop()
    assert "SMTP: Anmeldung: fehlgeschlagen" in text
    assert both.inbox.auth_attempts == 1
    assert both.inbox.quits == 1


def test_certificate_from_an_unknown_ca(make_app, owner, tmp_path, dovecot, ca):
    import trustme

    stranger = start_smtp(
        tmp_path / "fremd", ca=trustme.CA(), credentials=(OWN_EMAIL, OWN_PASSWORD)
    )
    try:
        app = _mail_app(make_app, ca, stranger.port, dovecot.imaps_port)
        text = _check(app, owner, stranger.port, dovecot.imaps_port)
    finally:
        stranger.stop()
    assert (
        "SMTP: Verschlüsselung mit gültigem Zertifikat: fehlgeschlagen – Das Zertifikat "
        "des Servers ist nicht vertrauenswürdig" in text
    )


def test_starttls_not_offered(make_app, owner, tmp_path, dovecot, ca):
    plain = start_smtp(
        tmp_path / "plain", ca=ca, starttls=False, credentials=(OWN_EMAIL, OWN_PASSWORD)
    )
    try:
        app = _mail_app(make_app, ca, plain.port, dovecot.imaps_port)
        text = _check(app, owner, plain.port, dovecot.imaps_port)
    finally:
        plain.stop()
    assert "keine verschlüsselte Verbindung (STARTTLS) an" in text
    assert plain.inbox.messages == []


def test_closed_port(make_app, owner, dovecot, ca):
    port = free_port()
    app = _mail_app(make_app, ca, port, dovecot.imaps_port)
    text = _check(app, owner, port, dovecot.imaps_port)
    assert (
        "SMTP-Server erreichbar: fehlgeschlagen – Der Server ist unter dieser Adresse und "
        "diesem Port nicht erreichbar." in text
    )


def test_server_that_never_answers_returns_within_the_timeout(
    make_app, owner, dovecot, ca, silent_port
):
    app = _mail_app(make_app, ca, silent_port, dovecot.imaps_port, timeout="2")
    text = _check(app, owner, silent_port, dovecot.imaps_port)
    assert "Der Server antwortet nicht (Zeitüberschreitung nach 2 Sekunden)." in text


def test_imap_without_sent_folder(make_app, owner, own_smtp, ca, tmp_path):
    from tests.support.dovecot import start_dovecot

    bare = start_dovecot(tmp_path / "bare", ca, OWN_EMAIL, OWN_PASSWORD, with_sent=False)
    try:
        app = _mail_app(make_app, ca, own_smtp.port, bare.imaps_port)
        text = _check(app, owner, own_smtp.port, bare.imaps_port)
    finally:
        bare.stop()
    assert (
        "Ordner für gesendete E-Mails gefunden: fehlgeschlagen – Kein Ordner für "
        "gesendete E-Mails gefunden." in text
    )


def test_imap_starttls_mode(mail_app, owner, own_smtp, dovecot):
    text = _check(mail_app, owner, own_smtp.port, dovecot.imap_port, imap_security="starttls")
    assert "Ordner für gesendete E-Mails gefunden: erfolgreich" in text


def test_implicit_tls_smtp(make_app, owner, tmp_path, dovecot, ca):
    server = start_smtp(
        tmp_path / "ssl", ca=ca, implicit_tls=True, credentials=(OWN_EMAIL, OWN_PASSWORD)
    )
    try:
        app = _mail_app(make_app, ca, server.port, dovecot.imaps_port)
        text = _check(app, owner, server.port, dovecot.imaps_port, smtp_security="ssl")
    finally:
        server.stop()
    assert "SMTP: Anmeldung: erfolgreich" in text and "fehlgeschlagen" not in text


def test_no_silent_switch_when_own_server_is_down(
    mail_app, client, owner, own_smtp, dovecot, smtp_server
):
    submit(client, "/account/mail", own_settings(own_smtp.port, dovecot.imaps_port))
    _connect(client)
    own_smtp.stop()
    api = mail_app.test_client()
    status = send_customer_mail(
        api, owner.account_id, {"to": "a@kunde.example", "subject": "S", "text": "T"}
    )
    assert status["status"] == "pending" and status["transport"] == "own"
    assert smtp_server.inbox.messages == []  # the operator's server was never used


def test_password_is_encrypted_bound_and_never_rendered(
    mail_app, client, owner, own_smtp, dovecot, make_owner
):
    submit(client, "/account/mail", own_settings(own_smtp.port, dovecot.imaps_port))
    page = client.get("/account/mail").get_data(as_text=True)
    assert OWN_PASSWORD not in page
    assert "Ein Passwort ist gespeichert." in page
    db = mail_app.extensions["kontor"].database
    with db.connection_context():
        raw = db.execute_sql("SELECT password_encrypted FROM mail_transport_settings").fetchone()
    assert OWN_PASSWORD not in raw[0] and raw[0].startswith("v1:")
    other = make_owner("zweit@example.com", company="Zweit GmbH")
    from core.security.crypto import DecryptionError
    from plugins.mail_transport.services import password_of

    with mail_app.app_context(), bind(mail_app).connection_context():
        copied = MailSettings(account=other.account, password_encrypted=raw[0])
        with pytest.raises(DecryptionError):
            password_of(copied)
        assert (
            password_of(MailSettings.get(MailSettings.account == owner.account_id)) == OWN_PASSWORD
        )


def test_password_kept_when_empty_and_required_when_server_changes(
    mail_app, client, owner, own_smtp, dovecot
):
    values = own_settings(own_smtp.port, dovecot.imaps_port)
    submit(client, "/account/mail", values)
    before = _settings(mail_app, owner.account_id).password_encrypted
    assert (
        submit(
            client, "/account/mail", {**values, "password": "", "sender_name": "Neu"}
        ).status_code
        == 302
    )
    assert _settings(mail_app, owner.account_id).password_encrypted == before
    response = submit(
        client, "/account/mail", {**values, "password": "", "smtp_user": "anders@example.com"}
    )
    assert response.status_code == 422
    assert "Bitte geben Sie das Passwort erneut ein" in response.get_data(as_text=True)
    # A failed save keeps saying that a password is stored.
    assert "Ein Passwort ist gespeichert." in response.get_data(as_text=True)
    response = submit(client, "/account/mail", {**values, "password": "", "smtp_port": "x"})
    assert response.status_code == 422
    assert "Ein Passwort ist gespeichert." in response.get_data(as_text=True)
    assert _settings(mail_app, owner.account_id).smtp_user == OWN_EMAIL


def test_keys_rotate(mail_app, client, owner, own_smtp, dovecot):
    from cryptography.fernet import Fernet

    from core.cli import cli

    submit(client, "/account/mail", own_settings(own_smtp.port, dovecot.imaps_port))
    old = mail_app.config["KONTOR_ENCRYPTION_KEYS"]
    new_key = Fernet.generate_key().decode()
    mail_app.config["KONTOR_ENCRYPTION_KEYS"] = [new_key, *old]
    result = mail_app.test_cli_runner().invoke(cli, ["keys", "rotate"])
    assert result.exit_code == 0 and "re-encrypted: 1" in result.output
    mail_app.config["KONTOR_ENCRYPTION_KEYS"] = [new_key]  # the old key is gone
    from plugins.mail_transport.services import password_of

    with mail_app.app_context(), bind(mail_app).connection_context():
        row = MailSettings.get(MailSettings.account == owner.account_id)
        assert password_of(row) == OWN_PASSWORD
        new_id = hashlib.sha256(base64.urlsafe_b64decode(new_key)).hexdigest()[:8]
        assert row.password_encrypted.split(":")[1] == new_id
