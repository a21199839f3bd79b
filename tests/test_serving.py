"""Real processes: gunicorn with two workers, and ``kontor demo`` from a fresh folder."""

from __future__ import annotations

import mailbox
import re
import subprocess
from pathlib import Path

import requests

from tests.conftest import PASSWORD
from tests.support.process import (
    KONTOR_SCRIPT,
    form_post,
    gunicorn,
    kontor,
    queue_worker,
    register,
    start,
    stop,
    wait_for_http,
)
from tests.support.smtp import free_port

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = {
    "/account/": "Mein Konto",
    "/account/profile": "Nutzerdaten",
    "/account/company": "Meine Firma",
    "/account/users": "Benutzer",
    "/account/notifications": "Benachrichtigungen",
    "/account/support": "Support",
    "/account/subscription": "Abonnement",
    "/account/mail": "E-Mail-Versand",
}


def _env(tmp_path: Path, database_url: str | None) -> dict[str, str]:
    env = {
        "KONTOR_INSTANCE_PATH": str(tmp_path / "instance"),
        "KONTOR_COOKIE_SECURE": "false",
        "KONTOR_SECRET_KEY": "gunicorn-test-secret-0123456789",
    }
    if database_url:
        env["KONTOR_DATABASE_URL"] = database_url
    return env


def test_gunicorn_two_workers_serves_health_and_login(tmp_path, database_url):
    port = free_port()
    env = {**_env(tmp_path, database_url), "KONTOR_BASE_URL": f"http://127.0.0.1:{port}"}
    kontor(env, "init")
    proc = start(
        gunicorn(port),
        env,
        ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    # the worker delivers the registration mail into the instance's Maildir
    worker = start(queue_worker(1), env, ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    maildir = mailbox.Maildir(tmp_path / "instance" / "mail")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/healthz", proc)
        assert requests.get(f"{base}/healthz", timeout=5).json() == {"status": "ok"}
        ready = requests.get(f"{base}/readyz", timeout=5)
        assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok"
        browser = requests.Session()
        response = register(
            browser, base, "g@example.com", PASSWORD, "Gunicorn GmbH", lambda: list(maildir)
        )
        assert response.status_code == 302
        fresh = requests.Session()
        response = form_post(
            fresh, f"{base}/login", {"email": "g@example.com", "password": PASSWORD}
        )
        assert response.status_code == 302
        # Requests spread over both workers all see the same server-side session.
        for _ in range(6):
            page = fresh.get(f"{base}/account/", timeout=5)
            assert "Gunicorn GmbH" in page.text
    finally:
        stop(proc)
        stop(worker)


def test_kontor_demo_serves_and_its_printed_login_works(tmp_path):
    port = free_port()
    proc = start(
        [KONTOR_SCRIPT, "demo", "--port", str(port)],
        {"PYTHONUNBUFFERED": "1"},
        tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = [proc.stdout.readline() for _ in range(3)]
        email = re.search(r"E-Mail-Adresse:\s+(\S+)", lines[1]).group(1)
        password = re.search(r"Passwort:\s+(\S+)", lines[2]).group(1)
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/healthz", proc)
        browser = requests.Session()
        response = form_post(browser, f"{base}/login", {"email": email, "password": password})
        assert response.status_code == 302
        for path, heading in SECTIONS.items():
            page = browser.get(base + path, timeout=10)
            assert page.status_code == 200, path
            assert f"<h1>{heading}</h1>" in page.text, path
            assert '<html lang="de">' in page.text
        assert (tmp_path / "instance" / "kontor.db").exists()
    finally:
        stop(proc)
