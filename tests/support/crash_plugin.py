"""Channels that kill the worker process: "crash" after sending, before
recording (the worst moment); "crash_early" on its first message after the
claim, before connecting to the mail server (later ones go out by e-mail).

Run as a script it starts a real huey consumer with this plugin loaded.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from core import hookimpl
from core.contract.values import EventType
from plugins.notifications.channels import EmailChannel


class CrashChannel:
    key = "crash"
    label = "Absturzkanal"
    order = 99
    missing_target = "–"

    def target(self, account):
        return "ziel@example.com"

    def send(self, account, target, notification):
        with Path(os.environ["CRASH_FILE"]).open("a") as fh:
            fh.write(f"{target}\n")
        os._exit(9)


class CrashBeforeConnecting(EmailChannel):
    key = "crash_early"
    label = "Absturz vor dem Verbinden"
    order = 98

    def target(self, account):
        return "ziel@example.com"

    def send(self, account, target, notification):
        marker = Path(os.environ["CRASH_FILE"])
        if not marker.exists():
            marker.write_text("killed before connecting\n")
            os.kill(os.getpid(), signal.SIGKILL)
        super().send(account, target, notification)


class CrashPlugin:
    __name__ = "crash_plugin"

    @hookimpl
    def kontor_event_types(self):
        return [
            EventType("crash.test", "Absturztest", order=99, default_channels=frozenset({"crash"})),
            EventType(
                "crash.early",
                "Absturz vor dem Verbinden",
                order=98,
                default_channels=frozenset({"crash_early"}),
            ),
        ]

    @hookimpl
    def kontor_notification_channels(self):
        return [CrashChannel(), CrashBeforeConnecting()]


if __name__ == "__main__":
    from core import create_app

    app = create_app(plugins=(CrashPlugin(),))
    app.extensions["kontor"].queue.huey.create_consumer(workers=1, periodic=False).run()
