"""Running at scale: Redis queue and rate limits, and two gunicorn instances
plus a worker sharing one database and one Redis."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_client
import requests

from core.data.db import bind
from core.delivery.outbox import MailOutbox
from tests.conftest import PASSWORD, SERVICE_TOKEN, upgrade
from tests.support.process import (
    form_post,
    gunicorn,
    kontor,
    maildir_messages,
    queue_worker,
    register,
    run_worker_until,
    start,
    stop,
    wait_for_http,
    wait_until,
)
from tests.support.smtp import free_port
from tests.support.web import AUTH, TOKEN_RE, invite, login

ROOT = Path(__file__).resolve().parent.parent
REDIS = "redis://127.0.0.1:6379"


RUN = uuid.uuid4().hex
# Database 9 was flushed unconditionally by earlier versions of this suite.
CLAIMABLE = [n for n in range(1, 16) if n != 9]


@pytest.fixture(scope="session")
def redis_number() -> Iterator[int]:
    """A Redis database that belongs to this test run alone.

    Test runs on one machine share the Redis server; each claims a free
    database number in database 0 (with an expiry, in case a run is killed),
    so no run flushes another's keys.
    """
    claims = redis_client.Redis.from_url(f"{REDIS}/0")
    try:
        claims.ping()
    except redis_client.ConnectionError:
        pytest.fail("Redis is not running on 127.0.0.1:6379 (start it as .ci/run does)")
    for number in CLAIMABLE:
        key = f"kontor-test-run:db:{number}"
        if claims.set(key, RUN, nx=True, ex=6 * 3600):
            break
    else:
        pytest.fail("every Redis database is claimed by other test runs")
    yield number
    if claims.get(key) == RUN.encode():
        claims.delete(key)


@pytest.fixture
def redis_db(redis_number: int) -> Iterator[str]:
    """This run's Redis database, flushed before and after the test."""
    url = f"{REDIS}/{redis_number}"
    conn = redis_client.Redis.from_url(url)
    conn.flushdb()
    yield url
    conn.flushdb()


def test_redis_queue_with_real_consumer(make_app, owner, redis_db):
    app = make_app({"KONTOR_QUEUE_URL": redis_db})
    upgrade(app, owner.account)
    client = app.test_client()
    login(client, owner.email, PASSWORD)
    assert invite(client).status_code == 302
    assert redis_client.Redis.from_url(redis_db).dbsize() >= 1  # waiting in Redis
    assert run_worker_until(app, lambda: len(maildir_messages(app)) == 1)
    with app.app_context(), bind(app).connection_context():
        assert [row.status for row in MailOutbox.select()] == ["sent"]


def test_login_limit_is_shared_through_redis(make_app, owner, redis_db):
    settings = {"KONTOR_RATELIMIT_STORAGE_URL": redis_db}
    first, second = make_app(settings), make_app(settings)  # two processes' worth of apps
    statuses = []
    for i in range(12):
        client = (first if i % 2 else second).test_client()
        client.environ_base["REMOTE_ADDR"] = f"10.9.0.{i}"
        statuses.append(login(client, owner.email, "falsch-falsch").status_code)
    assert statuses[:10] == [422] * 10 and statuses[10:] == [429, 429]


def test_two_instances_one_worker(tmp_path, database_url, redis_db, smtp_server):
    env = {
        "KONTOR_INSTANCE_PATH": str(tmp_path / "instance"),
        "KONTOR_DATABASE_URL": database_url or f"sqlite:///{tmp_path / 'shared.db'}",
        "KONTOR_QUEUE_URL": redis_db,
        "KONTOR_RATELIMIT_STORAGE_URL": redis_db,
        "KONTOR_SECRET_KEY": "shared-secret-key-0123456789abcdef",
        "KONTOR_SERVICE_TOKENS": SERVICE_TOKEN,
        "KONTOR_COOKIE_SECURE": "false",
        **smtp_server.config(),
    }
    ports = [free_port(), free_port()]
    env["KONTOR_BASE_URL"] = f"http://127.0.0.1:{ports[0]}"  # links in mails lead to A
    kontor(env, "init")
    procs = [
        start(
            gunicorn(port),
            env,
            ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    procs.append(
        start(
            queue_worker(2),
            env,
            ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    )
    a, b = (f"http://127.0.0.1:{port}" for port in ports)
    try:
        for base, proc in zip((a, b), procs, strict=False):
            wait_for_http(f"{base}/healthz", proc)
        browser = requests.Session()
        inbox = smtp_server.inbox
        confirmed = register(
            browser, a, "zwei@example.com", PASSWORD, "Zwei Instanzen GmbH", lambda: inbox.messages
        )
        assert confirmed.status_code == 302
        credentials = {"email": "zwei@example.com", "password": PASSWORD}
        assert form_post(browser, f"{a}/login", credentials).status_code == 302
        # A login made on A works on B.
        page = browser.get(f"{b}/account/", timeout=10, allow_redirects=False)
        assert page.status_code == 200 and "Zwei Instanzen GmbH" in page.text
        # A logout on A is refused on B at the next request, even with the old cookie.
        old_cookie = browser.cookies.get("kontor_session")
        token = TOKEN_RE.search(browser.get(f"{a}/account/", timeout=10).text).group(1)
        browser.post(f"{a}/logout", data={"csrf_token": token}, timeout=10)
        replay = requests.get(
            f"{b}/account/",
            cookies={"kontor_session": old_cookie},
            timeout=10,
            allow_redirects=False,
        )
        assert replay.status_code == 302
        # The login limit counts requests to both instances.
        statuses = [
            form_post(
                requests.Session(),
                f"{base}/login",
                {"email": "zwei@example.com", "password": "falsch-falsch"},
            ).status_code
            for base in (a, b) * 6
        ]
        # Ten per minute: the login after registering was the first, unless its
        # window has passed since.
        refused = statuses.index(429)
        assert refused in (9, 10) and statuses[:refused] == [422] * refused
        assert set(statuses[refused:]) == {429}
        # An event posted to A (and repeated on B) is delivered exactly once.
        account_id = requests.get(
            f"{a}/api/v1/accounts",
            params={"email": "zwei@example.com"},
            headers=AUTH,
            timeout=10,
        ).json()["accounts"][0]["id"]
        for base in (a, b):
            response = requests.post(
                f"{base}/api/v1/accounts/{account_id}/events",
                timeout=10,
                headers=AUTH,
                json={"type": "quote.accepted", "idempotency_key": "angebot-1"},
            )
            assert response.status_code == 202

        def notifications():  # besides the welcome mail of the registration
            subject = "Kontor: Angebot angenommen"
            return [m for m in smtp_server.inbox.messages if m["Subject"] == subject]

        assert wait_until(lambda: len(notifications()) >= 1)
        assert not wait_until(lambda: len(notifications()) > 1, seconds=3)
    finally:
        for proc in procs:
            stop(proc)
