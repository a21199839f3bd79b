"""Operations: request ids, JSON logs without secrets, online SQLite backup."""

from __future__ import annotations

import json
import logging
import sqlite3

from core.cli import cli
from tests.conftest import PASSWORD
from tests.support.web import login


def test_request_id_is_echoed_or_generated(client):
    given = client.get("/healthz", headers={"X-Request-ID": "abc12345-from-proxy"})
    assert given.headers["X-Request-ID"] == "abc12345-from-proxy"
    bad = client.get("/healthz", headers={"X-Request-ID": "<script>nicht gültig</script>"})
    assert len(bad.headers["X-Request-ID"]) == 16 and "<" not in bad.headers["X-Request-ID"]


def test_json_log_lines_carry_the_request_id_and_no_password(make_app, owner, capfd):
    app = make_app({"KONTOR_LOG_FORMAT": "json"})

    @app.get("/boom")
    def boom():
        raise RuntimeError("kaputt")

    client = app.test_client()
    login(client, owner.email, PASSWORD)
    response = client.get("/boom", headers={"X-Request-ID": "req-12345678"})
    assert response.status_code == 500
    assert "kaputt" not in response.get_data(as_text=True)  # no trace reaches the client
    lines = [
        json.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith("{")
    ]
    [entry] = [e for e in lines if e["request_id"] == "req-12345678"]
    assert entry["level"] == "ERROR" and "kaputt" in entry["exception"]
    assert PASSWORD not in json.dumps(lines)
    logging.getLogger("kontor").handlers.clear()


def test_backup_copies_the_sqlite_database(app, owner, runner, tmp_path):
    if not app.config["KONTOR_DATABASE_URL"].startswith("sqlite"):
        result = runner.invoke(cli, ["backup", str(tmp_path / "x.db")])
        assert result.exit_code != 0 and "pg_dump" in result.output
        return
    target = tmp_path / "backup.db"
    result = runner.invoke(cli, ["backup", str(target)])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(target) as copy:
        assert copy.execute("SELECT email FROM core_user").fetchall() == [(owner.email,)]


def test_sqlite_database_and_queue_files_are_private(tmp_path):
    """Like the generated keys, the database (with its WAL) and the queue are 0600."""
    from core import create_app
    from core.cli import apply_migrations
    from core.delivery.job_queue import ping

    instance = tmp_path / "instance"
    app = create_app(
        {
            "KONTOR_INSTANCE_PATH": str(instance),
            "KONTOR_DATABASE_URL": f"sqlite:///{instance / 'kontor.db'}",
            "KONTOR_QUEUE_URL": f"sqlite:///{instance / 'queue.db'}",
            "KONTOR_COOKIE_SECURE": "false",
        }
    )
    apply_migrations(app)
    ping(app)
    files = sorted(p.name for p in instance.glob("*.db*"))
    assert "kontor.db" in files and "queue.db" in files
    assert {name: (instance / name).stat().st_mode & 0o777 for name in files} == dict.fromkeys(
        files, 0o600
    )
