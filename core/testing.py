"""Fixtures for testing a Kontor plugin: ``kontor.testing``, a pytest plugin.

Installed with Kontor (entry point ``pytest11``, name ``kontor``), so a plugin
package's tests get these fixtures without any import:

- ``app``: a migrated instance in a temporary folder with every installed
  plugin; an uninstalled one is added by overriding ``kontor_plugins``
  (``{"name": module}``) in the plugin's ``conftest.py``, extra settings by
  overriding ``kontor_config``.
- ``owner``, ``owner_client``, ``member_client``, ``support_client``: the
  owner of "Muster GmbH" and clients logged in as owner, as a plain member,
  and as support staff in a read-only support session (the ``remote_support``
  plugin); ``make_support_client("full")`` for a full one.
- ``api_client``: the service API with a valid bearer token, paths below
  ``/api/v1``.
- ``sent_mail``: the mails the operator's server has accepted (the instance
  Maildir, as without ``KONTOR_MAIL_SERVER``).
- ``run_jobs``: jobs wait in the queue as they would for the worker; this
  runs them in-process with huey and returns how many ran.

On PostgreSQL (``KONTOR_TEST_DATABASE_URL`` set) each run gets a fresh
database. ``pytest -p no:kontor`` switches the plugin off.
"""

from __future__ import annotations

import mailbox
import os
import re
import secrets
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import peewee
import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from core.app import create_app
from core.cli import apply_migrations
from core.data.db import bind, utcnow

PASSWORD = "richtig-geheim-123"
SERVICE_TOKEN = "test-service-token-0123456789"
#: The Bundesbank's example creditor identifier, valid in form and check digits.
CREDITOR_ID = "DE98ZZZ09999999999"
STAFF_PASSWORD = "support-passwort-123"
TOKEN_RE = re.compile(r'name="[\w-]*csrf_token"(?: type="hidden")? value="([^"]+)"')


def settings(instance: Path, database_url: str | None) -> dict[str, Any]:
    """The settings of a test instance in the folder ``instance``."""
    return {
        "KONTOR_INSTANCE_PATH": str(instance / "instance"),
        "KONTOR_DATABASE_URL": database_url or f"sqlite:///{instance / 'kontor.db'}",
        "KONTOR_QUEUE_URL": f"sqlite:///{instance / 'queue.db'}",
        "KONTOR_SECRET_KEY": "test-secret-key-0123456789abcdef",
        "KONTOR_COOKIE_SECURE": "false",
        "KONTOR_BASE_URL": "http://localhost",
        "KONTOR_SERVICE_TOKENS": SERVICE_TOKEN,
        "KONTOR_DISABLED_PLUGINS": "",
        "KONTOR_SUBSCRIPTIONS_CREDITOR_ID": CREDITOR_ID,
        "TESTING": True,
    }


def csrf_token(client: FlaskClient, url: str) -> str:
    """Fetch ``url`` and return the CSRF token of its first form."""
    page = client.get(url)
    match = TOKEN_RE.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {url} (status {page.status_code})"
    return match.group(1)


def submit(
    client: FlaskClient,
    url: str,
    data: Mapping[str, Any],
    prefix: str = "",
    follow: bool = False,
    page: str | None = None,
) -> TestResponse:
    """POST a form the way a browser would: token from the page (``page``, by
    default ``url`` itself), then the fields."""
    token = csrf_token(client, page or url)
    fields = {f"{prefix}{k}": v for k, v in data.items()}
    return client.post(url, data={f"{prefix}csrf_token": token, **fields}, follow_redirects=follow)


def login(client: FlaskClient, email: str, password: str) -> TestResponse:
    return submit(client, "/login", {"email": email, "password": password})


def logged_in(app: Flask, email: str, password: str = PASSWORD) -> FlaskClient:
    """A new client of ``app`` that logged in through the login form."""
    client = app.test_client()
    response = login(client, email, password)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def table_schema(db: peewee.Database) -> dict[str, Any]:
    """Each table as the database describes it (columns, indexes, foreign keys),
    migration histories left out: compare a migrated database with the models."""
    described = {}
    for table in db.get_tables():
        if table.endswith("_migrations"):
            continue
        columns = {
            c.name: (c.data_type.lower(), c.null, c.primary_key, c.default)
            for c in db.get_columns(table)
        }
        indexes = sorted((tuple(i.columns), i.unique) for i in db.get_indexes(table))
        keys = sorted((k.column, k.dest_table, k.dest_column) for k in db.get_foreign_keys(table))
        described[table] = {"columns": columns, "indexes": indexes, "foreign_keys": keys}
    return described


def reset_postgres(app: Flask) -> None:
    """Empty the PostgreSQL database ``app`` used, for the next test."""
    db = bind(app)
    with db.connection_context():
        db.execute_sql("DROP SCHEMA public CASCADE")
        db.execute_sql("CREATE SCHEMA public")


def admin_connect(url: str) -> Any:
    """An autocommit connection to the server's "postgres" database (to create others)."""
    import psycopg2

    conn = psycopg2.connect(urlunsplit(urlsplit(url)._replace(path="/postgres")))
    conn.autocommit = True
    return conn


@contextmanager
def fresh_postgres_database(base: str, prefix: str) -> Iterator[str]:
    """A new PostgreSQL database on ``base``'s server, yielded as a URL and
    dropped afterwards (with every connection still open to it)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = admin_connect(base)
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        try:
            yield urlunsplit(urlsplit(base)._replace(path=f"/{name}"))
        finally:
            with admin.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str | None]:
    """A fresh PostgreSQL database for this run, or None for SQLite per test."""
    base = os.environ.get("KONTOR_TEST_DATABASE_URL")
    if not base:
        yield None
        return
    with fresh_postgres_database(base, "kontor_test") as url:
        yield url


@pytest.fixture
def kontor_plugins() -> Mapping[str, object]:
    """Plugins to register that are not installed: ``{"name": module}``. Override it."""
    return {}


@pytest.fixture
def kontor_config() -> Mapping[str, Any]:
    """Settings on top of the test instance's. Override it."""
    return {}


@pytest.fixture
def make_app(
    tmp_path: Path,
    database_url: str | None,
    kontor_plugins: Mapping[str, object],
    kontor_config: Mapping[str, Any],
) -> Iterator[Callable[..., Flask]]:
    """Build migrated apps on this test's database; extra settings allowed."""
    made: list[Flask] = []

    def factory(config: Mapping[str, Any] | None = None, plugins: Any = None) -> Flask:
        """``plugins`` (a mapping or a sequence) replaces ``kontor_plugins`` for this app."""
        overrides = {**settings(tmp_path, database_url), **kontor_config, **(config or {})}
        app = create_app(overrides, plugins=dict(kontor_plugins) if plugins is None else plugins)
        apply_migrations(app)
        made.append(app)
        return app

    yield factory
    if database_url and made:
        reset_postgres(made[-1])


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def owner(app: Flask) -> Any:
    """The owner (a ``core.data.models.User``) of the account "Muster GmbH"."""
    from core.data.accounts import register

    with app.app_context(), bind(app).connection_context():
        return register("Muster GmbH", "Erika", "Mustermann", "erika@example.com", PASSWORD)


@pytest.fixture
def owner_client(app: Flask, owner: Any) -> FlaskClient:
    return logged_in(app, owner.email)


@pytest.fixture
def member_client(app: Flask, owner: Any) -> FlaskClient:
    """A plain member of the owner's account (added directly, whatever the plan allows)."""
    from core.data.models import User
    from core.security.auth import hash_password

    with app.app_context(), bind(app).connection_context():
        User.create(
            account=owner.account_id,
            email="mia@example.com",
            password_hash=hash_password(PASSWORD),
            first_name="Mia",
            last_name="Mitglied",
            role="member",
        )
    return logged_in(app, "mia@example.com")


@pytest.fixture
def make_support_client(
    app: Flask, owner: Any, owner_client: FlaskClient
) -> Callable[[str], FlaskClient]:
    """Support staff in a session on the owner's account, in scope "read" or "full".

    Goes the operator's and the customer's ways: ``kontor staff create``, the
    owner's consent on the Support page, the staff login with its one-time
    code and "Sitzung starten" in the staff console.
    """

    def factory(scope: str = "read") -> FlaskClient:
        email = f"support-{secrets.token_hex(3)}@kontor.example"
        created = app.test_cli_runner().invoke(
            args=["staff", "create", email, "--name", "Susi Support", "--password-stdin"],
            input=STAFF_PASSWORD + "\n",
        )
        assert created.exit_code == 0, f"needs the remote_support plugin: {created.output}"
        uri = re.search(r"otpauth://\S+", created.output)
        assert uri, created.output
        granted = submit(
            owner_client,
            "/account/support",
            {"granted": "y", "duration": "7d", "scope": scope},
        )
        assert granted.status_code == 302, granted.get_data(as_text=True)
        client = app.test_client()
        code = pyotp.parse_uri(uri.group(0)).now()
        staff = {"email": email, "password": STAFF_PASSWORD, "code": code}
        assert submit(client, "/staff/login", staff).status_code == 302
        session = {"account_id": str(owner.account_id), "reason": "Ticket 4711"}
        started = submit(client, "/staff/sessions", session, page="/staff/")
        assert started.status_code == 302, started.get_data(as_text=True)
        return client

    return factory


@pytest.fixture
def support_client(make_support_client: Callable[[str], FlaskClient]) -> FlaskClient:
    return make_support_client("read")


class ServiceApi:
    """The service API as the invoicing service calls it: bearer token, JSON."""

    def __init__(self, client: FlaskClient, token: str = SERVICE_TOKEN) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def request(self, method: str, path: str, **kwargs: Any) -> TestResponse:
        """``path`` below ``/api/v1``, e.g. ``/accounts/1/usage``."""
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.client.open(f"/api/v1{path}", method=method, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("DELETE", path, **kwargs)


@pytest.fixture
def api_client(app: Flask) -> ServiceApi:
    return ServiceApi(app.test_client())


class SentMail:
    """The mails the operator's server accepted: the instance Maildir."""

    def __init__(self, app: Flask) -> None:
        self.folder = Path(app.config["KONTOR_INSTANCE_PATH"]) / "mail"

    def messages(self) -> list[EmailMessage]:
        """Every mail so far, parsed (``get_body``, ``get_content`` work)."""
        if not (self.folder / "new").is_dir():
            return []
        return [
            message_from_bytes(m.as_bytes(), policy=policy.default)  # type: ignore[misc]
            for m in mailbox.Maildir(self.folder, create=False)
        ]

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages() if address in str(m["To"])]


@pytest.fixture
def sent_mail(app: Flask) -> SentMail:
    return SentMail(app)


@pytest.fixture
def run_jobs(app: Flask) -> Callable[..., int]:
    """Run the queued jobs (and, with ``periodic=True``, the periodic ones due now)."""

    def run(periodic: bool = False) -> int:
        huey = app.extensions["kontor"].queue.huey
        for task in huey.read_periodic(utcnow()) if periodic else ():
            huey.enqueue(task)
        count = 0
        while True:
            for task in huey.read_schedule(utcnow()):  # retries and delayed jobs now due
                huey.enqueue(task)
            task = huey.dequeue()
            if task is None:
                return count
            huey.execute(task)
            count += 1

    return run
