"""A worker killed -9 at each point of an SMTP delivery, against aiosmtpd, with a
SQLite and a Redis queue (and the suite's database): a mail whose transaction
never reached DATA is sent again, one that did is "nicht bestätigt", and no mail
arrives twice."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys

import pytest

from core.data.db import bind, utcnow
from core.data.models import Account
from core.delivery.events import emit
from plugins.notifications import services
from plugins.notifications.models import Delivery
from tests.support.crash_plugin import CrashPlugin
from tests.support.process import ROOT, app_env, queue_worker, wait_until
from tests.test_scale import redis_db, redis_number  # noqa: F401 (fixtures)


@pytest.fixture(params=["sqlite", "redis"])
def queue_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'queue.db'}"
    return request.getfixturevalue("redis_db")


def _rows(app):
    with app.app_context(), bind(app).connection_context():
        return list(Delivery.select().order_by(Delivery.id))


def _settled(app):
    return all(row.status in ("sent", "failed") for row in _rows(app))


def _sweep_after_timeout(app):
    """What the periodic sweep does once the dead worker's claim is stale."""
    with app.app_context(), bind(app).connection_context():
        Delivery.update(claimed_at=utcnow() - dt.timedelta(minutes=16)).where(
            Delivery.status == "sending"
        ).execute()
        services.sweep()


def _start(command, app, smtp_server, **env):
    """A real worker process on the app's database and queue, mailing via aiosmtpd."""
    return subprocess.Popen(
        command,
        env=app_env(app, **smtp_server.config(), **env),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _run_until_settled(command, app, smtp_server, **env):
    worker = _start(command, app, smtp_server, **env)
    try:
        assert wait_until(lambda: _settled(app))
    finally:
        worker.terminate()
        worker.wait(timeout=10)


@pytest.mark.parametrize("kill_at", ["MAIL", "DATA"])
def test_worker_killed_in_the_smtp_transaction(make_app, owner, smtp_server, queue_url, kill_at):
    app = make_app({**smtp_server.config(), "KONTOR_QUEUE_URL": queue_url})
    with app.app_context(), bind(app).connection_context():
        account = Account.get_by_id(owner.account_id)
        account.notification_email = "info@muster.example"
        account.save()
        for _ in range(3):
            services.send_test(account, "email")

    seen = []
    worker = _start(queue_worker(1), app, smtp_server)

    def kill_on_second(command):
        if command == kill_at:
            seen.append(command)
            if len(seen) == 2:
                os.kill(worker.pid, signal.SIGKILL)

    smtp_server.inbox.on_command = kill_on_second
    assert worker.wait(timeout=60) == -signal.SIGKILL
    smtp_server.inbox.on_command = None
    [first, killed, _third] = _rows(app)
    assert first.status == "sent"
    assert killed.status == "sending"
    assert killed.stage == ("claimed" if kill_at == "MAIL" else "data")

    _sweep_after_timeout(app)
    _run_until_settled(queue_worker(1), app, smtp_server)

    rows = _rows(app)
    assert len(smtp_server.inbox.messages) == 3  # none lost, none twice
    if kill_at == "MAIL":
        assert [row.status for row in rows] == ["sent"] * 3
        assert rows[1].attempts == 2
    else:
        assert [row.status for row in rows] == ["sent", "failed", "sent"]
        assert rows[1].error == "Zustellung nicht bestätigt (Verarbeitung abgebrochen)"
        assert rows[1].attempts == 1


def test_worker_killed_before_connecting_sends_later(
    make_app, owner, smtp_server, queue_url, tmp_path
):
    app = make_app(
        {**smtp_server.config(), "KONTOR_QUEUE_URL": queue_url}, plugins=(CrashPlugin(),)
    )
    crash_file = tmp_path / "crashed.txt"
    with app.app_context(), bind(app).connection_context():
        emit(Account.get_by_id(owner.account_id), "crash.early", {}, idempotency_key="e1")

    command = [sys.executable, "-m", "tests.support.crash_plugin"]
    first = _start(command, app, smtp_server, CRASH_FILE=str(crash_file))
    assert first.wait(timeout=60) == -signal.SIGKILL
    [row] = _rows(app)
    assert (row.status, row.stage) == ("sending", "claimed")
    assert smtp_server.inbox.messages == []

    _sweep_after_timeout(app)
    _run_until_settled(command, app, smtp_server, CRASH_FILE=str(crash_file))
    [row] = _rows(app)
    assert (row.status, row.attempts) == ("sent", 2)
    [message] = smtp_server.inbox.messages
    assert message["To"] == "ziel@example.com"
