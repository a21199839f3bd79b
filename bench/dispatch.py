"""Notification dispatch throughput against raw smtplib, measured in one run.

    python bench/dispatch.py [--events 5000] [--accounts 100]

Emits the events for the accounts (each in its own transaction, as the service
API does), then a real ``kontor worker`` process delivers them by e-mail to a
local aiosmtpd with STARTTLS and AUTH (a backlog); then emits as many again
while the worker runs (end to end, as in operation). The same number of messages is sent with
raw smtplib over one connection to the same server before and after; the
faster of the two raw runs is the baseline. Prints messages per second for
both, the ratios and the worker's CPU time per message.
"""

from __future__ import annotations

import argparse
import os
import resource
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
from core.cli import apply_migrations  # noqa: E402
from core.data.accounts import register, update_company  # noqa: E402
from core.data.db import bind  # noqa: E402
from core.delivery.events import emit  # noqa: E402
from core.delivery.smtp_client import tls_context  # noqa: E402
from plugins.notifications.models import Delivery  # noqa: E402
from tests.support.process import queue_worker  # noqa: E402
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
        "KONTOR_COOKIE_SECURE": "false",  # no web server here; the config asks for https otherwise
    }
    app = create_app(config)
    apply_migrations(app)
    with app.app_context(), bind(app).connection_context():
        accounts = []
        for i in range(args.accounts):
            owner = register(f"Firma {i}", "A", "B", f"owner{i}@example.com", "x" * 12)
            update_company(owner.account, f"Firma {i}", f"info{i}@example.com", None)
            accounts.append(owner.account)

    def emit_all(batch: int) -> float:
        with app.app_context(), bind(app).connection_context():
            start = time.perf_counter()
            for n in range(args.events):
                account = accounts[n % len(accounts)]
                emit(account, "quote.accepted", {"Angebot": f"AN-{batch}-{n}"})
            return time.perf_counter() - start

    def wait_for(count: int, since: float) -> float:
        while len(server.inbox.messages) < count:
            if time.perf_counter() - since > 600:
                raise SystemExit("delivery did not finish within 10 minutes")
            time.sleep(0.01)
        return time.perf_counter() - since

    raw_before = raw_smtplib(server, args.events)
    server.inbox.messages.clear()

    # 1. A backlog: events emitted while no worker runs, then delivered.
    emit_seconds = emit_all(1)
    env = {**os.environ, **{k: str(v) for k, v in config.items()}}
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    worker = subprocess.Popen(
        queue_worker(args.workers, "--worker-type", args.worker_type),
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deliver_seconds = wait_for(args.events, start)
        # 2. Steady operation: the worker runs while the events come in.
        start = time.perf_counter()
        emit_all(2)
        pipeline_seconds = wait_for(2 * args.events, start)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    worker_cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (
        cpu_before.ru_utime + cpu_before.ru_stime
    )
    with app.app_context(), bind(app).connection_context():
        sent = Delivery.select().where(Delivery.status == "sent").count()

    server.inbox.messages.clear()
    raw = args.events / min(raw_before, raw_smtplib(server, args.events))
    server.stop()

    delivery = args.events / deliver_seconds
    pipeline = args.events / pipeline_seconds
    print(f"events emitted:         {args.events / emit_seconds:.0f}/s ({args.accounts} accounts)")
    print(f"worker delivery:        {delivery:.0f} messages/s (backlog of {args.events})")
    print(f"emit while delivering:  {pipeline:.0f} messages/s (first emit to last delivery)")
    print(f"worker CPU:             {worker_cpu / (2 * args.events) * 1000:.2f} ms per message")
    print(f"raw smtplib:            {raw:.0f} messages/s (one connection, faster of two runs)")
    print(f"ratio delivery / raw:   {delivery / raw:.2f}")
    print(f"ratio end to end / raw: {pipeline / raw:.2f}")
    print(f"sent:                   {sent} of {2 * args.events} outbox rows")


if __name__ == "__main__":
    main()
