"""Real processes: gunicorn with two workers, and ``kontor demo`` from a fresh folder."""

from __future__ import annotations

import mailbox
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import requests

from tests.conftest import PASSWORD, SELLER
from tests.support.process import (
    KONTOR_SCRIPT,
    form_post,
    gunicorn,
    instance_env,
    kontor,
    queue_worker,
    register,
    start,
    stop,
    wait_for_http,
    wait_until,
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


def test_gunicorn_two_workers_serves_health_and_login(tmp_path, database_url):
    port = free_port()
    env = instance_env(
        tmp_path / "instance",
        "gunicorn-test-secret-0123456789",
        KONTOR_BASE_URL=f"http://127.0.0.1:{port}",
    )
    if database_url:
        env["KONTOR_DATABASE_URL"] = database_url
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


def _demo(tmp_path: Path, port: int, *options: str) -> subprocess.Popen:
    return start(
        [KONTOR_SCRIPT, "demo", "--port", str(port), *options],
        {"PYTHONUNBUFFERED": "1", "KONTOR_SERVICE_TOKENS": ""},
        tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _printed(proc: subprocess.Popen) -> dict[str, str]:
    """The login block ``kontor demo`` prints before it serves."""
    lines = [proc.stdout.readline() for _ in range(5)]
    found = {}
    for key, pattern in (
        ("email", r"E-Mail-Adresse:\s+(\S+)"),
        ("password", r"Passwort:\s+(\S+)"),
        ("token", r"Service-Token:\s+(\S+)"),
        ("api", r"(http://\S+/api/v1/accounts/\d+/subscription)"),
    ):
        found[key] = next(m.group(1) for line in lines if (m := re.search(pattern, line)))
    return found


def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"  # a zombie is gone
    except FileNotFoundError:
        return True


def test_kontor_demo_serves_and_its_printed_login_works(tmp_path):
    port = free_port()
    proc = _demo(tmp_path, port)
    try:
        login = _printed(proc)
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/healthz", proc)
        browser = requests.Session()
        response = form_post(
            browser, f"{base}/login", {"email": login["email"], "password": login["password"]}
        )
        assert response.status_code == 302
        for path, heading in SECTIONS.items():
            page = browser.get(base + path, timeout=10)
            assert page.status_code == 200, path
            assert f"<h1>{heading}</h1>" in page.text, path
            assert '<html lang="de">' in page.text
        # Direct debit is offered, with the mandate text and a sample creditor id.
        billing = browser.get(f"{base}/account/subscription/billing", timeout=10).text
        assert "SEPA-Lastschrift ist derzeit nicht verfügbar" not in billing
        assert "Gläubiger-Identifikationsnummer: DE98ZZZ09999999999" in billing
        assert (tmp_path / "instance" / "kontor.db").exists()

        # The printed token works at once, and the account is lived in.
        auth = {"Authorization": f"Bearer {login['token']}"}
        state = requests.get(login["api"], headers=auth, timeout=10).json()
        usage, limits = state["usage"], state["limits"]
        assert usage["receipt_scans"] >= 0.95 * limits["receipt_scans"]
        assert usage["storage_bytes"] >= 0.8 * limits["storage_bytes"]
        assert state["ends_at"] is None  # cancelled, then the cancellation was undone
        account = login["api"].rsplit("/", 1)[0]
        log = requests.get(f"{account}/support-access", headers=auth, timeout=10).json()["log"]
        assert [e["action"] for e in log] == ["revoke", "session_end", "session_start", "grant"]
        mails = requests.get(f"{account}/customers/K-1001/emails", headers=auth, timeout=10)
        assert [m["customer_name"] for m in mails.json()["emails"]] == ["Bäckerei Schmidt"] * 2
        deliveries = requests.get(f"{account}/notifications", headers=auth, timeout=10).json()
        assert {"quote.accepted", "dunning.sent"} <= {
            d["event_type"] for d in deliveries["deliveries"]
        }

        # SIGTERM stops the server and the worker it started.
        [worker] = _children(proc.pid)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert wait_until(lambda: _gone(worker), seconds=15)

        # The next start prints the same password; --reset-password changes it.
        again = _demo(tmp_path, port)
        assert _printed(again)["password"] == login["password"]
        stop(again)
        reset = _demo(tmp_path, port, "--reset-password")
        fresh = _printed(reset)
        assert fresh["password"] != login["password"] and fresh["token"] == login["token"]
        wait_for_http(f"{base}/healthz", reset)
        old = form_post(
            requests.Session(),
            f"{base}/login",
            {"email": login["email"], "password": login["password"]},
        )
        assert old.status_code == 422
        stop(reset)
    finally:
        stop(proc)


def test_kontor_demo_on_a_busy_port_changes_nothing(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [KONTOR_SCRIPT, "demo", "--port", str(port)],
            env={**os.environ, "KONTOR_SERVICE_TOKENS": ""},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode != 0
    assert f"Port {port} is in use by another program." in result.stderr
    assert list(tmp_path.iterdir()) == []  # no instance folder, no database, no account


def test_kontor_help_lists_kontors_commands_only(tmp_path):
    result = subprocess.run(
        [KONTOR_SCRIPT, "--help"],
        env={**os.environ, "KONTOR_COOKIE_SECURE": "false"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    commands = re.findall(r"^  (\w+)\s", result.stdout.split("Commands:")[1], re.M)
    assert commands == [
        "backup", "demo", "init", "keys", "migrate", "plugins",
        "renewals", "serve", "staff", "worker",
    ]  # fmt: skip
    for foreign in ("--app", "--env-file", "--debug", "python-dotenv"):
        assert foreign not in result.stdout


def test_a_new_web_worker_loads_no_library_of_a_rare_path(tmp_path):
    """Creating the app (what each gunicorn worker does) imports neither the
    passkey library, the QR code library, the IBAN registry, the phone number
    library nor the invoice PDF libraries: each loads where it is used
    (bench/memory_load.py)."""
    rare = ("webauthn", "OpenSSL", "segno", "schwifty", "phonenumbers", "fpdf", "facturx")
    code = (
        "import sys\n"
        "from core import create_app\n"
        "create_app()\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {rare!r}))\n"
    )
    env = {**os.environ, **instance_env(tmp_path / "instance", "test-secret-key-0123456789abcdef")}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_an_upgrade_booked_in_a_web_worker_leaves_the_pdf_to_the_queue(tmp_path):
    """Booking an upgrade issues its invoice in the request; the PDF is rendered
    by the queue worker, so the web worker still has no PDF library loaded."""
    code = (
        "import sys\n"
        "from core import create_app\n"
        "from core.cli import apply_migrations\n"
        "from core.data.accounts import register\n"
        "from core.data.db import bind\n"
        "from plugins.subscriptions import services\n"
        "from plugins.subscriptions.invoices import invoices\n"
        "app = create_app()\n"
        "apply_migrations(app)\n"
        "with app.test_request_context(), bind(app).connection_context():\n"
        "    owner = register('Muster GmbH', 'Max', 'Muster', 'max@example.com', 'pw-123456789')\n"
        "    services.save_billing(owner.account, {'name': 'Muster GmbH', 'street': 'Weg 1',\n"
        "        'postal_code': '50667', 'city': 'Köln', 'country': 'DE',\n"
        "        'payment_method': 'invoice'})\n"
        "    services.change_plan(owner.account, 'premium')\n"
        "    print(len(invoices(owner.account)))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('fpdf', 'facturx')))\n"
    )
    env = {
        **os.environ,
        **instance_env(tmp_path / "instance", "test-secret-key-0123456789abcdef", **SELLER),
    }
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "[]"]
