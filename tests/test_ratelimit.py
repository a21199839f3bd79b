"""Rate limits: only the listed methods count, and a refusal says when to try again."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from limits.storage import storage_from_string

from core import hookimpl
from core.config import ConfigError
from core.web.api import service_blueprint
from core.web.ratelimit import SQLiteStorage, limiter
from tests.conftest import PASSWORD
from tests.support.process import form_post, gunicorn, kontor, start, stop, wait_for_http
from tests.support.smtp import free_port
from tests.support.web import AUTH, csrf_token, invite, login, submit

ROOT = Path(__file__).resolve().parent.parent


def test_refusal_names_the_wait_in_retry_after(app, owner):
    client = app.test_client()
    statuses = [login(client, owner.email, "falsch-falsch").status_code for _ in range(10)]
    refused = login(client, owner.email, PASSWORD)  # right password, but too late
    assert statuses == [422] * 10
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60  # "10 per minute" ran out first
    assert "Zu viele Versuche" in refused.get_data(as_text=True)
    assert refused.headers["Cache-Control"] == "no-store"


def test_loading_a_limited_form_is_not_counted(app, owner):
    client = app.test_client()
    assert {client.get("/login").status_code for _ in range(30)} == {200}
    assert login(client, owner.email, PASSWORD).status_code == 302


def test_the_other_limits_of_a_spec_count_too(make_app, owner):
    """With "3 per hour;2 per day" the day's limit refuses the third request."""
    app = make_app({"KONTOR_LOGIN_LIMIT": "3 per hour;2 per day"})
    client = app.test_client()
    responses = [login(client, owner.email, "falsch-falsch") for _ in range(3)]
    assert [r.status_code for r in responses] == [422, 422, 429]
    assert int(responses[-1].headers["Retry-After"]) > 3600


def test_a_malformed_limit_stops_the_start_naming_the_variable(make_app):
    with pytest.raises(ConfigError) as refused:
        make_app({"KONTOR_LOGIN_LIMIT": "ten per minute"})
    message = str(refused.value)
    assert message.startswith("KONTOR_LOGIN_LIMIT: ") and "\n" not in message
    with pytest.raises(ConfigError, match=r"^KONTOR_LOGIN_LIMIT: "):
        make_app({"KONTOR_LOGIN_LIMIT": "0 per minute"})


def test_the_server_refuses_a_malformed_limit_in_one_line(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "KONTOR_INSTANCE_PATH": str(tmp_path),
        "KONTOR_BASE_URL": "https://kontor.example",
        "KONTOR_LOGIN_LIMIT": "ten per minute",
    }
    result = subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "kontor: error: KONTOR_LOGIN_LIMIT: expected limits like "
        "'10 per minute;50 per hour', got 'ten per minute'"
    ]


def test_the_current_password_check_on_the_profile_is_limited_per_user(
    app, user_client, make_owner
):
    def change_email(client, password):
        fields = {"new_email": "neu@example.com", "current_password": password, "submit": "1"}
        return submit(
            client, "/account/profile/email", fields, prefix="email-", page="/account/profile"
        )

    statuses = [change_email(user_client, "falsch-falsch").status_code for _ in range(5)]
    refused = change_email(user_client, PASSWORD)  # right password, but too late
    assert statuses == [422] * 5
    assert refused.status_code == 429
    assert "Zu viele Versuche" in refused.get_data(as_text=True)
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # Saving the name checks no password and is not refused.
    renamed = submit(
        user_client,
        "/account/profile",
        {"first_name": "Erika", "last_name": "Neu", "submit": "1"},
        prefix="profile-",
    )
    assert renamed.status_code == 302
    # Another user's count is their own.
    other = make_owner("andere@example.com", company="Andere GmbH")
    client = app.test_client()
    assert login(client, other.email, PASSWORD).status_code == 302
    assert change_email(client, "falsch-falsch").status_code == 422


def test_invitations_are_limited_per_account(user_client):
    statuses = [invite(user_client, email="kaputt").status_code for _ in range(21)]
    assert statuses == [422] * 20 + [429]


def test_the_mail_connection_test_is_limited_per_account(user_client):
    token = csrf_token(user_client, "/account/mail")
    statuses = [
        user_client.post("/account/mail/connect", data={"csrf_token": token}).status_code
        for _ in range(11)
    ]
    assert statuses == [302] * 10 + [429]


class LimitedApi:
    """A plugin with a rate-limited service API route."""

    @hookimpl
    def kontor_blueprints(self):
        bp = service_blueprint("limited", __name__)

        @bp.post("/limited")
        @limiter.limit("2 per hour")
        def limited():
            return {"ok": True}

        return [bp]


def test_the_api_refuses_with_its_json_error_and_retry_after(make_app):
    client = make_app(plugins=(LimitedApi(),)).test_client()
    statuses = [client.post("/api/v1/limited", headers=AUTH).status_code for _ in range(3)]
    refused = client.post("/api/v1/limited", headers=AUTH)
    assert statuses == [200, 200, 429]
    assert refused.status_code == 429
    assert refused.json == {"error": {"code": "too_many_requests", "message": "Too many requests."}}
    assert 3500 < int(refused.headers["Retry-After"]) <= 3600


def test_counters_in_sqlite_are_shared_by_every_storage_on_the_file(tmp_path):
    """Two storages on one file stand for two processes: each has its own connection."""
    url = f"sqlite:///{tmp_path / 'ratelimit.db'}"
    first, second = storage_from_string(url), storage_from_string(url)
    assert isinstance(first, SQLiteStorage)
    assert [first.incr("k", 60), second.incr("k", 60), first.incr("k", 60)] == [1, 2, 3]
    assert second.get("k") == 3 and second.get("other") == 0
    assert first.get_expiry("k") > time.time() + 50
    assert first.incr("gone", 0) == 1  # expires at once ...
    assert second.incr("gone", 60) == 1  # ... so the next count starts a new window
    second.clear("k")
    assert first.get("k") == 0
    assert first.check() and first.reset() == 1
    assert stat.S_IMODE(os.stat(tmp_path / "ratelimit.db").st_mode) == 0o600


def _instance_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "KONTOR_INSTANCE_PATH": str(tmp_path / "instance"),
        "KONTOR_DATABASE_URL": f"sqlite:///{tmp_path / 'kontor.db'}",
        "KONTOR_SECRET_KEY": "shared-secret-key-0123456789abcdef",
        "KONTOR_COOKIE_SECURE": "false",
        **extra,
    }


def test_the_processes_of_one_instance_share_the_login_counts(tmp_path):
    """Two server processes on one instance folder, requests alternating between
    them: the default storage counts all of them, as it does for gunicorn's workers."""
    env = _instance_env(tmp_path)
    kontor(env, "init")
    ports = [free_port(), free_port()]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    procs = [start(gunicorn(port, workers=1), env, ROOT, **quiet) for port in ports]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for base, proc in zip(bases, procs, strict=True):
            wait_for_http(f"{base}/healthz", proc)
        statuses = [
            form_post(
                requests.Session(),
                f"{base}/login",
                {"email": "niemand@example.com", "password": "falsch-falsch"},
            ).status_code
            for base in bases * 6
        ]
    finally:
        for proc in procs:
            stop(proc)
    assert statuses == [422] * 10 + [429, 429]


def test_gunicorn_refuses_several_workers_counting_each_on_their_own(tmp_path):
    env = _instance_env(tmp_path, KONTOR_RATELIMIT_STORAGE_URL="memory://")
    result = subprocess.run(
        gunicorn(free_port(), workers=2),
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == (
        "kontor: error: KONTOR_RATELIMIT_STORAGE_URL: memory:// counts per worker; "
        "with 2 workers use the default (a file in the instance folder) or redis://"
    )


def test_logins_sent_as_json_count_for_the_same_address(app, owner):
    """Flask-WTF reads a JSON body as the form: its address is counted too."""
    statuses = []
    for i in range(12):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"10.1.0.{i}"
        if i % 2:
            statuses.append(login(client, owner.email, "falsch-falsch").status_code)
        else:
            token = csrf_token(client, "/login")
            body = {"email": owner.email.upper(), "password": "falsch-falsch"}
            response = client.post("/login", json=body, headers={"X-CSRFToken": token})
            statuses.append(response.status_code)
    assert statuses == [422] * 10 + [429, 429]
