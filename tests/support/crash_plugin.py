"""A channel whose send succeeds and then kills the worker process at once,
the worst moment: after sending, before recording.

Run as a script it starts a real huey consumer with this plugin loaded.
"""

from __future__ import annotations

import os
from pathlib import Path

from core import hookimpl
from core.types import EventType


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


class CrashPlugin:
    __name__ = "crash_plugin"

    @hookimpl
    def kontor_event_types(self):
        return [
            EventType("crash.test", "Absturztest", order=99, default_channels=frozenset({"crash"}))
        ]

    @hookimpl
    def kontor_notification_channels(self):
        return [CrashChannel()]


if __name__ == "__main__":
    from core import create_app

    app = create_app(plugins=(CrashPlugin(),))
    app.extensions["kontor"].queue.huey.create_consumer(workers=1, periodic=False).run()
