"""A worker killed between sending and recording never causes a second message."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

from core.data.db import bind, utcnow
from core.data.models import Account
from core.delivery.events import emit
from plugins.notifications import services
from plugins.notifications.models import Delivery
from tests.support.crash_plugin import CrashPlugin
from tests.support.process import ROOT, app_env


def _run_worker(app, crash_file):
    env = app_env(app, CRASH_FILE=str(crash_file))
    return subprocess.run(
        [sys.executable, "-m", "tests.support.crash_plugin"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        timeout=60,
    )


def test_killed_worker_does_not_send_twice(make_app, owner, tmp_path):
    app = make_app(
        {"KONTOR_QUEUE_URL": f"sqlite:///{tmp_path / 'queue.db'}"}, plugins=(CrashPlugin(),)
    )
    crash_file = tmp_path / "sent.txt"
    with app.app_context(), bind(app).connection_context():
        emit(Account.get_by_id(owner.account_id), "crash.test", {}, idempotency_key="k1")

    result = _run_worker(app, crash_file)
    assert result.returncode == 9  # the real consumer died inside send()
    assert crash_file.read_text().splitlines() == ["ziel@example.com"]

    with app.app_context(), bind(app).connection_context():
        [row] = Delivery.select().where(Delivery.channel == "crash")
        assert row.status == "sending"
        services.deliver(row.id)  # huey or a sweep hands the job out again
        emit(Account.get_by_id(owner.account_id), "crash.test", {}, idempotency_key="k1")
        Delivery.update(claimed_at=utcnow() - dt.timedelta(minutes=16)).execute()
        services.sweep()
        [row] = Delivery.select().where(Delivery.channel == "crash")
    assert crash_file.read_text().splitlines() == ["ziel@example.com"]
    assert row.status == "failed"
    assert row.error == "Zustellung nicht bestätigt (Verarbeitung abgebrochen)"
