"""Notification dispatch throughput against raw smtplib, measured in one run.

    python bench/dispatch.py [--events 5000] [--accounts 100]

Emits the events for the accounts (each in its own transaction, as the service
API does), then a real ``kontor worker`` process delivers them by e-mail to a
local aiosmtpd with STARTTLS and AUTH. The same number of messages is then sent
with raw smtplib over one connection to the same server. Prints messages per
second for both and the ratio.
"""

from __future__ import annotations

import argparse
import os
import smtplib
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core import create_app  # noqa: E402
from core.accounts import register, update_company  # noqa: E402
from core.cli import apply_migrations  # noqa: E402
from core.db import bind  # noqa: E402
from core.events import emit  # noqa: E402
from core.smtp import tls_context  # noqa: E402
from plugins.notifications.models import Delivery  # noqa: E402
from tests.support.smtp import PASSWORD, USERNAME, start_smtp  # noqa: E402


def raw_smtplib(server, count: int) -> float:
    ctx = tls_context(server.ca_file)
    start = time.perf_counter()
    with smtplib.SMTP("localhost", server.port, timeout=10) as conn:
        conn.starttls(context=ctx)
        conn.login(USERNAME, PASSWORD)
        for i in range(count):
            msg = EmailMessage()
            msg["From"] = "Kontor <noreply@kontor.example>"
            msg["To"] = f"info{i % 100}@example.com"
            msg["Subject"] = "Kontor: Angenommene Angebote"
            msg.set_content("Guten Tag,\n\nin Ihrem Konto gibt es Neuigkeiten.\n")
            conn.send_message(msg)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--worker-type", choices=["thread", "process"], default="thread")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="kontor-bench-"))
    server = start_smtp(tmp)
    config = {
        **server.config(),
        "KONTOR_INSTANCE_PATH": str(tmp / "instance"),
        "KONTOR_QUEUE_URL": f"sqlite:///{tmp / 'queue.db'}",
        "KONTOR_SERVICE_TOKENS": "",
    }
    app = create_app(config)
    apply_migrations(app)
    with app.app_context(), bind(app).connection_context():
        accounts = []
        for i in range(args.accounts):
            owner = register(f"Firma {i}", "A", "B", f"owner{i}@example.com", "x" * 12)
            update_company(owner.account, f"Firma {i}", f"info{i}@example.com", None)
            accounts.append(owner.account)
        start = time.perf_counter()
        for n in range(args.events):
            emit(accounts[n % len(accounts)], "quote.accepted", {"Angebot": f"AN-{n}"})
        emit_seconds = time.perf_counter() - start

    env = {**os.environ, **{k: str(v) for k, v in config.items()}}
    start = time.perf_counter()
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "core.cli",
            "worker",
            "--workers",
            str(args.workers),
            "--worker-type",
            args.worker_type,
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while len(server.inbox.messages) < args.events:
            if time.perf_counter() - start > 600:
                raise SystemExit("delivery did not finish within 10 minutes")
            time.sleep(0.05)
        deliver_seconds = time.perf_counter() - start
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    with app.app_context(), bind(app).connection_context():
        sent = Delivery.select().where(Delivery.status == "sent").count()

    server.inbox.messages.clear()
    raw_seconds = raw_smtplib(server, args.events)
    server.stop()

    ours = args.events / (emit_seconds + deliver_seconds)
    raw = args.events / raw_seconds
    print(
        f"events emitted:        {args.events} for {args.accounts} accounts "
        f"in {emit_seconds:.2f}s ({args.events / emit_seconds:.0f}/s)"
    )
    print(
        f"worker delivery:       {sent} sent in {deliver_seconds:.2f}s "
        f"({args.events / deliver_seconds:.0f}/s)"
    )
    print(f"kontor end to end:     {ours:.0f} messages/s (emit + deliver)")
    print(f"raw smtplib:           {raw:.0f} messages/s (one connection)")
    print(f"ratio kontor / raw:    {ours / raw:.2f}")
    print(f"ratio delivery / raw:  {(args.events / deliver_seconds) / raw:.2f}")


if __name__ == "__main__":
    main()
