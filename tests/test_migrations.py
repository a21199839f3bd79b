"""Migration histories grow by frozen steps: a fresh install, an upgraded one and
the models describe the same tables, on SQLite and on PostgreSQL."""

from __future__ import annotations

import sys
import types
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import peewee
import pytest

from core.contract.values import Schema
from core.data.accounts import register
from core.data.db import bind, open_database
from core.data.migrations import migrate
from core.testing import PASSWORD, admin_connect, table_schema

NOTIZEN = Path(__file__).resolve().parent / "fixtures" / "kontor-plugin-notizen"


@pytest.fixture
def empty_database(tmp_path, database_url):
    """A second, empty database beside the test's (a file, or one on the same server)."""
    if database_url is None:
        db = open_database(f"sqlite:///{tmp_path / 'other.db'}")
        yield db
        db.close()
        return
    name = f"kontor_other_{uuid.uuid4().hex[:10]}"
    admin = admin_connect(database_url)
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    db = open_database(urlunsplit(urlsplit(database_url)._replace(path=f"/{name}")))
    try:
        yield db
    finally:
        db.close()
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def described_by_models(db: peewee.Database, schemas: list[Schema]) -> dict:
    """The tables the current models create in an empty database."""
    models = [model for schema in schemas for model in schema.models]
    with db.connection_context(), db.bind_ctx(models, bind_refs=False, bind_backrefs=False):
        db.create_tables(models)
        return table_schema(db)


def installed(app) -> dict:
    db = bind(app)
    with db.connection_context():
        return table_schema(db)


@pytest.fixture
def notizen(monkeypatch):
    """The plugin written from the guide (two migration steps), importable for this test."""
    monkeypatch.syspath_prepend(str(NOTIZEN))
    import notizen

    yield notizen
    for name in [m for m in sys.modules if m == "notizen" or m.startswith("notizen.")]:
        sys.modules.pop(name)


def test_a_fresh_install_has_the_tables_the_models_describe(app, empty_database):
    """For core and every plugin: the frozen steps plus the later ones match the code."""
    schemas = app.extensions["kontor"].schemas()
    assert {s.name for s in schemas} == {
        "core",
        "notifications",
        "remote_support",
        "subscriptions",
        "mail_transport",
    }
    fresh = installed(app)
    assert fresh == described_by_models(empty_database, schemas)


def test_an_install_upgraded_from_0001_matches_a_fresh_one(make_app, notizen, empty_database):
    first = notizen.kontor_schema()
    assert [m.id for m in first.migrations] == ["0001_initial", "0002_pinned"]
    released = types.SimpleNamespace(
        kontor_schema=notizen.hookimpl(
            lambda: Schema("notizen", first.models, first.migrations[:1])
        )
    )
    old = make_app(plugins={"notizen": released})
    db = bind(old)
    with old.app_context(), db.connection_context():
        owner = register("Muster GmbH", "Erika", "Mustermann", "erika@example.com", PASSWORD)
        assert "pinned" not in {c.name for c in db.get_columns("notizen_note")}
        db.execute_sql(
            "INSERT INTO notizen_note (account_id, text, created_at) VALUES (%s, %s, %s)".replace(
                "%s", db.param
            ),
            (owner.account_id, "vor dem Update", "2026-01-01 00:00:00"),
        )
    upgraded_app = make_app(plugins={"notizen": notizen})
    upgraded = installed(upgraded_app)
    with upgraded_app.app_context(), db.connection_context():
        [note] = notizen.services.notes(owner.account)
        assert (note.text, note.pinned) == ("vor dem Update", False)

    schemas = upgraded_app.extensions["kontor"].schemas()
    with empty_database.connection_context():
        migrate(empty_database, schemas)
        fresh = table_schema(empty_database)
    assert upgraded == fresh
    assert "pinned" in upgraded["notizen_note"]["columns"]
