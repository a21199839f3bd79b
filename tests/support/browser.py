"""Browser fixtures: Kontor under gunicorn with a worker, and a Chromium page."""

from __future__ import annotations

import mailbox
import os
import re
import subprocess
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CREDITOR_ID, SELLER, SERVICE_TOKEN, require_binary
from tests.support.process import (
    ROOT,
    gunicorn,
    kontor,
    mailed_link,
    queue_worker,
    start,
    stop,
    wait_for_http,
)
from tests.support.smtp import free_port

CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "docs" / "screenshots"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Viewport widths the layout is checked and photographed at.
WIDTHS = {"desktop": 1280, "phone": 390}


def set_width(page: Any, width: int) -> None:
    """Resize the viewport to ``width`` (height follows: phone-like or desktop-like)."""
    page.set_viewport_size({"width": width, "height": 844 if width < 600 else 900})


def screenshot(page: Any, name: str) -> None:
    """Save a full-page screenshot to docs/screenshots/ when KONTOR_UPDATE_SCREENSHOTS=1."""
    if os.environ.get("KONTOR_UPDATE_SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.evaluate("window.scrollTo(0, 0)")  # the sticky section list at its place
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@dataclass
class LiveServer:
    url: str
    env: dict[str, str]
    #: The system mails that arrived so far (the SMTP server's or the Maildir's).
    mails: Callable[[], Iterable[Message]] = list

    def link(self, to: str, kind: str) -> str:
        """The one-time link of ``kind`` (e.g. "register/confirm") mailed to ``to``."""
        return mailed_link(self.mails, to, kind)

    def kontor(self, *args: str, stdin: str = "") -> str:
        """Run a ``kontor`` command against this server's database."""
        return kontor(self.env, *args, stdin=stdin)

    def create_staff(self, email: str, name: str, password: str) -> Any:
        """``kontor staff create`` for a support employee; returns the
        pyotp.TOTP of the authenticator link it prints."""
        import pyotp

        out = self.kontor(
            "staff", "create", email, "--name", name, "--password-stdin", stdin=password + "\n"
        )
        return pyotp.parse_uri(re.search(r"otpauth://\S+", out).group(0))


@contextmanager
def serve(
    tmp_path: Path, database_url: str | None, extra: dict[str, str], host: str = "127.0.0.1"
) -> Iterator[LiveServer]:
    """gunicorn (2 workers) and a queue worker on a fresh instance, addressed
    as ``host`` (passkeys need a domain name such as localhost, not an IP)."""
    port = free_port()
    env = {
        "KONTOR_BASE_URL": f"http://{host}:{port}",
        "KONTOR_INSTANCE_PATH": str(tmp_path / "instance"),
        "KONTOR_COOKIE_SECURE": "false",
        "KONTOR_SECRET_KEY": "browser-test-secret-0123456789",
        "KONTOR_SERVICE_TOKENS": SERVICE_TOKEN,
        "KONTOR_SMS_GATEWAY_URL": "",
        "KONTOR_IMPRINT_URL": "/impressum",
        "KONTOR_PRIVACY_URL": "/datenschutz",
        "KONTOR_TERMS_URL": "/agb",
        "KONTOR_SUBSCRIPTIONS_CREDITOR_ID": CREDITOR_ID,
        **SELLER,
        **extra,
    }
    if database_url:
        env["KONTOR_DATABASE_URL"] = database_url
    server = LiveServer("", env)
    server.kontor("init")
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    web = start(
        gunicorn(port),
        env,
        ROOT,
        **quiet,
    )
    worker_log = (tmp_path / "worker.log").open("w")
    worker = start(
        queue_worker(2),
        env,
        ROOT,
        stdout=worker_log,
        stderr=subprocess.STDOUT,
    )
    server.url = f"http://{host}:{port}"
    try:
        wait_for_http(f"{server.url}/healthz", web)
        yield server
    finally:
        stop(web)
        stop(worker)
        worker_log.close()


@pytest.fixture
def live(tmp_path, smtp_server, database_url, make_app):
    make_app()  # on PostgreSQL its teardown empties the shared test database
    with serve(tmp_path, database_url, smtp_server.config()) as server:
        server.mails = lambda: list(smtp_server.inbox.messages)
        yield server


@pytest.fixture
def live_mail(tmp_path, database_url, ca, own_smtp, dovecot, make_app):
    """A server allowed to reach the local own-account SMTP and Dovecot servers."""
    make_app()
    hosts = ",".join(f"localhost:{p}" for p in (own_smtp.port, dovecot.imaps_port))
    with serve(
        tmp_path,
        database_url,
        {
            "KONTOR_MAIL_CA_FILE": ca.path,
            "KONTOR_MAIL_TIMEOUT": "15",
            "KONTOR_MAIL_ALLOWED_HOSTS": hosts,
        },
    ) as server:
        server.mails = lambda: list(mailbox.Maildir(tmp_path / "instance" / "mail"))
        yield server


@pytest.fixture
def page():
    require_binary(CHROMIUM)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="de-DE")
        yield context.new_page()
        browser.close()


def sign_up(
    page: Any,
    live: LiveServer,
    email: str,
    password: str,
    company: str,
    name: tuple[str, str] = ("Pia", "Plan"),
) -> None:
    """Register through the sign-up form by its labels and activate the
    account with the mailed link (which logs the page in)."""
    page.goto(f"{live.url}/register")
    for label, value in (
        ("Firmenname", company),
        ("Vorname", name[0]),
        ("Nachname", name[1]),
        ("E-Mail-Adresse", email),
        ("Passwort", password),
    ):
        page.get_by_label(label).fill(value)
    page.get_by_role("button", name="Registrieren").click()
    confirm_sign_up(page, live, email)


def confirm_sign_up(page: Any, live: LiveServer, email: str) -> None:
    """Open the registration link mailed to ``email`` and activate the account
    (which logs the page in)."""
    page.goto(live.link(email, "register/confirm"))
    page.get_by_role("button", name=re.compile("Konto aktivieren|Activate account")).click()


def log_in(page: object, email: str, password: str) -> None:
    """Fill the login form (where registration leads) and send it with Enter."""
    page.get_by_label("E-Mail-Adresse").fill(email)  # type: ignore[attr-defined]
    page.get_by_label("Passwort").fill(password)  # type: ignore[attr-defined]
    page.get_by_label("Passwort").press("Enter")  # type: ignore[attr-defined]
