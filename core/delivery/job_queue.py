"""The background queue: huey, one instance per app.

Jobs come from the ``kontor_jobs`` hook and are enqueued by name, after the
surrounding transaction commits, so the worker never sees a row that does not
exist yet. ``memory://`` runs jobs at once in-process (tests); ``sqlite://``
is the embedded default and ``redis://`` serves several machines.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import Flask, current_app
from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey, crontab
from huey.storage import SqliteStorage

from core.contract.values import Job, PeriodicJob
from core.data.db import bind, connect, create_private_file, database, release
from core.delivery import smtp_client


class _QueueStorage(SqliteStorage):
    """huey's SQLite storage with the durability of Kontor's own database.

    WAL with ``synchronous=normal`` skips the fsync per commit; a job lost to a
    power cut is found again by the outbox sweeps, which own the truth.
    """

    def _create_connection(self) -> Any:
        conn = super()._create_connection()
        conn.execute("pragma synchronous=normal")
        return conn


def _make_huey(url: str) -> Huey:
    parts = urlsplit(url)
    if parts.scheme == "memory":
        return MemoryHuey("kontor", immediate=True)
    if parts.scheme == "sqlite":
        path = unquote(parts.path)
        if parts.netloc:
            path = parts.netloc + path
        create_private_file(path)
        huey = SqliteHuey("kontor", filename=path, timeout=10, storage_class=_QueueStorage)
        huey.storage.close()  # no connection may survive into forked web workers
        return huey
    return RedisHuey("kontor", url=url)


class Queue:
    """The app's huey with every job registered by name."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.huey = _make_huey(app.config["KONTOR_QUEUE_URL"])
        self.tasks: dict[str, Any] = {}
        # Each worker thread ends its kept SMTP session with QUIT when it stops.
        self.huey.on_shutdown("close_smtp_session")(smtp_client.close_kept)

    def _in_app(self, func: Callable[..., Any]) -> Callable[..., Any]:
        app = self.app

        def run(*args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                db = bind(app)
                opened = connect(db)  # False if kept or inside a request
                try:
                    return func(*args, **kwargs)
                finally:
                    if opened:
                        release(db)

        run.__name__ = getattr(func, "__name__", "job")
        return run

    def register(self, job: Job) -> None:
        self.tasks[job.name] = self.huey.task(
            retries=job.retries, retry_delay=job.retry_delay, name=job.name
        )(self._in_app(job.func))

    def register_periodic(self, job: PeriodicJob) -> None:
        self.huey.periodic_task(crontab(minute=job.minute, hour=job.hour), name=job.name)(
            self._in_app(job.func)
        )

    def enqueue_now(self, name: str, delay: int | None = None, **kwargs: Any) -> None:
        """Hand the job to huey immediately (outside any transaction)."""
        task = self.tasks[name]
        if delay:
            task.schedule(kwargs=kwargs, delay=delay)
        else:
            task(**kwargs)


def enqueue(name: str, delay: int | None = None, **kwargs: Any) -> None:
    """Run job ``name`` in the worker once the current transaction commits."""
    queue: Queue = current_app.extensions["kontor"].queue
    if name not in queue.tasks:
        raise KeyError(f"unknown job {name!r}")
    database.obj.after_commit(lambda: queue.enqueue_now(name, delay=delay, **kwargs))


def ping(app: Flask) -> None:
    """Raise if the queue storage cannot be reached (for ``/readyz``)."""
    queue: Queue = app.extensions["kontor"].queue
    queue.huey.storage.queue_size()
