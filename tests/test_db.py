"""Database layer: connections kept between requests."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest
from flask import Flask

from core.data.db import KontorSqliteDatabase, bind, open_database
from core.data.models import Account
from core.testing import admin_connect as _admin_connect
from tests.support.web import SERVICE_TOKEN


def test_kept_connection_sees_writes_of_other_connections(app, user_client, owner):
    """A request served on a kept connection reads what another process committed."""
    assert "Muster GmbH" in user_client.get("/account/company").text
    kept = bind(app)
    if isinstance(kept, KontorSqliteDatabase):  # the request thread keeps its connection
        assert not kept.is_closed()
    other = open_database(app.config["KONTOR_DATABASE_URL"])
    with other.connection_context(), other.bind_ctx([Account]):
        Account.update(company_name="Umbenannt KG").where(Account.id == owner.account_id).execute()
    page = user_client.get("/account/company").text
    assert "Umbenannt KG" in page and "Muster GmbH" not in page


@pytest.fixture
def postgres_app(make_app: Callable[..., Flask], database_url: str | None) -> Iterator[Flask]:
    """An app on PostgreSQL: the run's database, or a fresh one on the local server
    when the suite runs on SQLite."""
    if database_url:
        yield make_app()
        return
    base = os.environ.get("KONTOR_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    name = f"kontor_test_{uuid.uuid4().hex[:10]}"
    admin = _admin_connect(base)
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        url = urlunsplit(urlsplit(base)._replace(path=f"/{name}"))
        app = make_app({"KONTOR_DATABASE_URL": url})
        yield app
        if not bind(app).is_closed():
            bind(app).close()
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_request_after_the_server_closed_the_kept_connection_succeeds(postgres_app):
    """A PostgreSQL connection the server terminated between two requests (a
    restart, an administrator) is replaced; the next request does not fail."""
    client = postgres_app.test_client()
    headers = {"Authorization": f"Bearer {SERVICE_TOKEN}"}
    url = "/api/v1/accounts?email=niemand@example.com"
    assert client.get(url, headers=headers).status_code == 200
    db = bind(postgres_app)
    assert not db.is_closed()  # the test thread kept its connection
    pid = db.connection().info.backend_pid
    admin = _admin_connect(postgres_app.config["KONTOR_DATABASE_URL"])
    try:
        with admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
            assert cur.fetchone()[0]
            gone = False
            while not gone:  # the backend has sent its goodbye once it has exited
                cur.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,))
                gone = cur.fetchone()[0] == 0
    finally:
        admin.close()

    response = client.get(url, headers=headers)

    assert response.status_code == 200, response.text
    assert response.json == {"accounts": []}
    assert db.connection().info.backend_pid != pid


def test_customer_name_migration_adds_the_column_to_older_databases(ctx):
    from playhouse.migrate import SchemaMigrator, migrate

    from core.data.migrations import steps

    [step] = [m for m in steps("core.data", "history") if m.id == "0003_customer_name"]
    database = bind(ctx)

    def columns():
        return {c.name for c in database.get_columns("core_customer_mail")}

    step.apply(database)  # a new database has it already: nothing to do
    assert "customer_name" in columns()
    migrate(
        SchemaMigrator.from_database(database).drop_column("core_customer_mail", "customer_name")
    )
    assert "customer_name" not in columns()
    step.apply(database)
    assert "customer_name" in columns()
