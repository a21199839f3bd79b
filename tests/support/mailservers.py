"""Mail servers for own-account tests: a test CA, aiosmtpd and Dovecot."""

from __future__ import annotations

import socket
import threading

import pytest
import trustme

from tests.conftest import require_binary
from tests.support.dovecot import DOVECOT, start_dovecot
from tests.support.smtp import start_smtp

OWN_EMAIL = "kunde@example.com"
OWN_PASSWORD = "imap-und-smtp-geheim"


@pytest.fixture
def ca(tmp_path):
    authority = trustme.CA()
    path = tmp_path / "own-ca.pem"
    authority.cert_pem.write_to_path(str(path))
    authority.path = str(path)
    return authority


@pytest.fixture
def own_smtp(tmp_path, ca):
    server = start_smtp(tmp_path / "own", ca=ca, credentials=(OWN_EMAIL, OWN_PASSWORD))
    yield server
    server.stop()


@pytest.fixture
def dovecot(tmp_path, ca):
    require_binary(DOVECOT)
    server = start_dovecot(tmp_path / "dovecot", ca, OWN_EMAIL, OWN_PASSWORD)
    yield server
    server.stop()


@pytest.fixture
def silent_port():
    """A port that accepts connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


def allowed(*ports: int) -> str:
    return ",".join(f"localhost:{p}" for p in ports)


def own_settings(smtp_port: int, imap_port: int, **overrides) -> dict:
    values = {
        "mode": "own",
        "keep_history": "y",
        "sender_name": "Muster GmbH",
        "reply_to": "",
        "own_email": OWN_EMAIL,
        "password": OWN_PASSWORD,
        "imap_user": OWN_EMAIL,
        "imap_host": "localhost",
        "imap_port": str(imap_port),
        "imap_security": "ssl",
        "smtp_user": OWN_EMAIL,
        "smtp_host": "localhost",
        "smtp_port": str(smtp_port),
        "smtp_security": "starttls",
        "submit": "1",
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}
