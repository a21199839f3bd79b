"""The service API's hot paths against a bare Flask + peewee app doing the same
database work.

    python bench/api.py [--setup sqlite|postgres|both] [--requests 2000] [--rounds 5]
        [--postgres-url postgresql://postgres@127.0.0.1:5432/postgres]
        [--redis-url redis://127.0.0.1:6379/15]

``POST /api/v1/accounts/<id>/events``: the bare app checks the bearer token,
reads the account and inserts one event row. Kontor's account has switched its
notifications off for the event, so its database work is the same apart from
the preference read that decides so (no delivery row, nothing queued).
``GET /api/v1/accounts/<id>/subscription``: the bare app reads the account,
its subscription, its user count and its mail settings and answers the same
JSON as Kontor.

Setups: SQLite with the SQLite queue (files in a temporary folder), and
PostgreSQL (a fresh database, dropped afterwards) with the Redis queue. Both
apps get the same database settings (``core.data.db.open_database``); the bare app
keeps its connection per thread. Both WSGI apps are called in process, one
request after the other (no server, no network), in alternating rounds so a
drift in the machine's speed touches both sides alike. Prints microseconds per
request (median of the rounds) and the ratio bare / Kontor (Kontor's share of
the bare app's throughput).
"""

from __future__ import annotations

import argparse
import hmac
import io
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import peewee  # noqa: E402
from flask import Flask, abort, jsonify, request  # noqa: E402
from werkzeug.test import EnvironBuilder  # noqa: E402

from core import create_app  # noqa: E402
from core.data.db import bind, open_database, utcnow  # noqa: E402
from core.testing import fresh_postgres_database  # noqa: E402

TOKEN = "bench-service-token-0123456789abcdef"  # noqa: S105 - an in-process benchmark's token
EVENT = "quote.accepted"


def bare_app(database_url: str, plans: dict[str, tuple[str, dict[str, int]]]) -> Flask:
    """Flask + peewee, nothing else: the two endpoints written out by hand.

    ``plans`` maps a plan key to its name and limits (Kontor's catalog, which
    it also reads once at start).
    """
    db = open_database(database_url)

    class Base(peewee.Model):
        class Meta:
            database = db

    class Account(Base):
        company_name = peewee.CharField()

        class Meta:
            table_name = "core_account"

    class Event(Base):
        account_id = peewee.IntegerField()
        type = peewee.CharField()
        data_json = peewee.TextField()
        idempotency_key = peewee.CharField(null=True)
        created_at = peewee.DateTimeField()

        class Meta:
            table_name = "core_event"

    class User(Base):
        account_id = peewee.IntegerField()

        class Meta:
            table_name = "core_user"

    class Subscription(Base):
        account_id = peewee.IntegerField()
        plan = peewee.CharField()
        interval = peewee.CharField()
        status = peewee.CharField()
        period_end = peewee.DateTimeField()
        scheduled_plan = peewee.CharField(null=True)
        cancel_at_period_end = peewee.BooleanField()
        reported_json = peewee.TextField()

        class Meta:
            table_name = "subscriptions_subscription"

    class MailSettings(Base):
        account_id = peewee.IntegerField()
        mode = peewee.CharField()
        own_active = peewee.BooleanField()

        class Meta:
            table_name = "mail_transport_settings"

    app = Flask(__name__)

    @app.before_request
    def check_token() -> None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), TOKEN.encode()):
            abort(401)
        db.connect(reuse_if_open=True)  # kept for the thread's next request

    def account(account_id: int) -> Any:
        row = Account.get_or_none(Account.id == account_id)
        if row is None:
            abort(404)
        return row

    @app.post("/api/v1/accounts/<int:account_id>/events")
    def events(account_id: int) -> tuple[Any, int]:
        body = request.get_json()
        row = Event.create(
            account_id=account(account_id).id,
            type=body["type"],
            data_json=json.dumps(body.get("data", {})),
            idempotency_key=body.get("idempotency_key"),
            created_at=utcnow(),
        )
        return jsonify(id=row.id, type=row.type, created=True, deliveries=[]), 202

    @app.get("/api/v1/accounts/<int:account_id>/subscription")
    def subscription(account_id: int) -> Any:
        acc = account(account_id)
        sub = Subscription.get(Subscription.account_id == acc.id)
        users = User.select().where(User.account_id == acc.id).count()
        mail = MailSettings.get_or_none(MailSettings.account_id == acc.id)
        name, limits = plans[sub.plan]
        end = sub.period_end.isoformat() + "Z"
        return jsonify(
            plan=sub.plan,
            plan_name=name,
            status=sub.status,
            interval=sub.interval,
            renews_at=None if sub.cancel_at_period_end else end,
            ends_at=end if sub.cancel_at_period_end else None,
            scheduled_plan=sub.scheduled_plan,
            limits=limits,
            usage={"users": users, **json.loads(sub.reported_json)},
            own_mail_account=bool(mail and mail.mode == "own" and mail.own_active),
        )

    return app


def kontor_app(config: dict[str, str]) -> tuple[Flask, int, dict[str, tuple[str, dict[str, int]]]]:
    """Kontor migrated, with one account whose notifications are all off."""
    from core.cli import apply_migrations
    from core.data.accounts import register
    from plugins.notifications.services import save_preferences
    from plugins.subscriptions.catalog import catalog

    app = create_app({**config, "KONTOR_SERVICE_TOKENS": TOKEN, "KONTOR_COOKIE_SECURE": "false"})
    apply_migrations(app)
    with app.app_context(), bind(app).connection_context():
        user = register("Bench GmbH", "B", "C", "bench@example.com", "bench-passwort-1")
        save_preferences(user.account, [])
        plans = {p.key: (str(p.name), dict(p.limits)) for p in catalog().plans}
    return app, user.account_id, plans


def caller(app: Callable, method: str, path: str, body: bytes | None) -> Callable[[], str]:
    """A function that runs one request through ``app`` and returns its status."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    environ = EnvironBuilder(
        path=path,
        method=method,
        headers=headers,
        data=body,
        content_type="application/json" if body is not None else None,
    ).get_environ()
    statuses: list[str] = []

    def start_response(status: str, _headers: list, _exc_info: object = None) -> None:
        statuses.append(status)

    def call() -> str:
        env = dict(environ)
        if body is not None:
            env["wsgi.input"] = io.BytesIO(body)
        result = app(env, start_response)
        b"".join(result)
        getattr(result, "close", lambda: None)()
        return statuses.pop()

    return call


def per_request(call: Callable[[], str], requests: int, expected: str) -> float:
    """Microseconds per request over ``requests`` calls."""
    started = time.perf_counter()
    for _ in range(requests):
        status = call()
        if status != expected:
            raise SystemExit(f"unexpected answer {status}")
    return (time.perf_counter() - started) / requests * 1e6


def compare(
    ours: Callable[[], str], bare: Callable[[], str], expected: str, requests: int, rounds: int
) -> tuple[float, float]:
    """Median µs per request of both, measured in alternating rounds after a warm-up."""
    per_request(ours, requests // 10, expected)
    per_request(bare, requests // 10, expected)
    mine, theirs = [], []
    for _ in range(rounds):
        mine.append(per_request(ours, requests, expected))
        theirs.append(per_request(bare, requests, expected))
    return statistics.median(mine), statistics.median(theirs)


def run(label: str, config: dict[str, str], requests: int, rounds: int) -> None:
    app, account_id, plans = kontor_app(config)
    bare = bare_app(config["KONTOR_DATABASE_URL"], plans)
    event = json.dumps({"type": EVENT, "data": {"Angebot": "A-1"}}).encode()
    cases = [
        ("POST", f"/api/v1/accounts/{account_id}/events", event, "202 ACCEPTED"),
        ("GET", f"/api/v1/accounts/{account_id}/subscription", None, "200 OK"),
    ]
    for method, path, body, expected in cases:
        mine, theirs = answer(app, method, path, body), answer(bare, method, path, body)
        if {**mine, "id": None} != {**theirs, "id": None}:
            raise SystemExit(f"the answers differ:\n{mine}\n{theirs}")
        ours, baseline = caller(app, method, path, body), caller(bare, method, path, body)
        kontor_us, bare_us = compare(ours, baseline, expected, requests, rounds)
        short = path.replace(f"/{account_id}/", "/<id>/")
        print(
            f"{label:22} {method:4} {short:38} {kontor_us:9.1f} {bare_us:8.1f} "
            f"{bare_us / kontor_us:6.2f}"
        )


def answer(app: Flask, method: str, path: str, body: bytes | None) -> dict[str, Any]:
    """The JSON ``app`` answers (to check both apps answer alike)."""
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    return app.test_client().open(path, method=method, data=body, headers=headers).json


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--setup", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--requests", type=int, default=2000, help="per round and side")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    args = parser.parse_args()
    print(f"{'setup':22} {'':4} {'path':38} {'Kontor µs':>9} {'bare µs':>8} {'ratio':>6}")
    if args.setup in ("sqlite", "both"):
        tmp = Path(tempfile.mkdtemp(prefix="kontor-api-"))
        config = {
            "KONTOR_INSTANCE_PATH": str(tmp / "instance"),
            "KONTOR_DATABASE_URL": f"sqlite:///{tmp / 'kontor.db'}",
            "KONTOR_QUEUE_URL": f"sqlite:///{tmp / 'queue.db'}",
        }
        run("SQLite + SQLite queue", config, args.requests, args.rounds)
    if args.setup in ("postgres", "both"):
        tmp = Path(tempfile.mkdtemp(prefix="kontor-api-"))
        with fresh_postgres_database(args.postgres_url, "kontor_bench") as url:
            config = {
                "KONTOR_INSTANCE_PATH": str(tmp / "instance"),
                "KONTOR_DATABASE_URL": url,
                "KONTOR_QUEUE_URL": args.redis_url,
            }
            run("PostgreSQL + Redis", config, args.requests, args.rounds)


if __name__ == "__main__":
    main()
