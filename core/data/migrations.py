"""Per-owner migration histories: core first, then plugins by name.

Each schema keeps its own table ``<name>_migrations`` listing the applied
migration ids, so adding or removing a plugin never disturbs another's
history.

A history grows by steps that never change once released: a plugin's
``migrations/0001_initial.py`` creates its tables from a frozen snapshot of
the models (:class:`Frozen` classes, copied from the models of that
release), and each later step is a short file of its own, e.g.
``migrations/0002_note.py``::

    import peewee
    from core.data.migrations import add_fields

    MIGRATION = add_fields("0002_note", "datenexport_job", note=peewee.TextField(default=""))

:func:`steps` loads them in order. A fresh install and an upgraded one then
run the same steps and end with the same tables, whatever the models say
later (``tests/test_migrations.py`` compares both with the models).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from importlib.resources import files

import peewee
from playhouse.migrate import SchemaMigrator
from playhouse.migrate import migrate as run_operations

from core.contract.values import Migration, Schema
from core.data.db import utcnow


class Frozen(peewee.Model):
    """Base of the models a migration step snapshots: bound to no database
    (the step binds them while it runs), table names as given."""

    class Meta:
        legacy_table_names = False


def stub(table: str) -> type[Frozen]:
    """A frozen model that only names ``table``: the target of a foreign key to a
    table another history owns (``Account = stub("core_account")``)."""
    meta = type("Meta", (), {"table_name": table})
    return type(table, (Frozen,), {"Meta": meta, "__module__": __name__})


def create_tables(migration_id: str, models: Sequence[type[peewee.Model]]) -> Migration:
    """A migration that creates ``models``' tables: pass :class:`Frozen` models
    so the step keeps creating the same tables when the live models change."""

    def apply(db: peewee.Database) -> None:
        with db.bind_ctx(list(models), bind_refs=False, bind_backrefs=False):
            db.create_tables(list(models), safe=False)

    return Migration(id=migration_id, apply=apply)


def add_fields(migration_id: str, table: str, **fields: peewee.Field) -> Migration:
    """A migration that adds columns to ``table``, described as peewee fields.

    peewee's schema migrator writes each dialect's DDL, so the column is the
    one a model with this field would create; a NOT NULL field needs a
    ``default`` for the rows already there. A column already there is left
    alone.
    """

    def apply(db: peewee.Database) -> None:
        present = {column.name for column in db.get_columns(table)}
        migrator = SchemaMigrator.from_database(db)
        run_operations(
            *(migrator.add_column(table, n, f) for n, f in fields.items() if n not in present)
        )

    return Migration(id=migration_id, apply=apply)


def allow_null(migration_id: str, table: str, *columns: str) -> Migration:
    """A migration that lets ``columns`` of ``table`` hold NULL (peewee's schema
    migrator: ALTER on PostgreSQL, a rebuilt table on SQLite)."""

    def apply(db: peewee.Database) -> None:
        migrator = SchemaMigrator.from_database(db)
        run_operations(*(migrator.drop_not_null(table, column) for column in columns))

    return Migration(id=migration_id, apply=apply)


def combined(migration_id: str, *parts: Migration) -> Migration:
    """One step made of several operations (new tables and new columns), applied
    in order in the step's transaction."""

    def apply(db: peewee.Database) -> None:
        for part in parts:
            part.apply(db)

    return Migration(id=migration_id, apply=apply)


def steps(package: str, folder: str = "migrations") -> list[Migration]:
    """The steps in ``<package>/<folder>/NNNN_name.py``, each file's ``MIGRATION``,
    by file name; each step's id is its file name."""
    found = []
    for entry in sorted(files(package).joinpath(folder).iterdir(), key=lambda e: e.name):
        name = entry.name.removesuffix(".py")
        if entry.name.endswith(".py") and name[:4].isdigit():
            step = importlib.import_module(f"{package}.{folder}.{name}").MIGRATION
            if step.id != name:
                raise ValueError(f"{package}.{folder}.{name} holds step {step.id!r}")
            found.append(step)
    return found


def _history_model(db: peewee.Database, name: str) -> type[peewee.Model]:
    class History(peewee.Model):
        id = peewee.CharField(primary_key=True, max_length=200)
        applied_at = peewee.DateTimeField()

        class Meta:
            database = db
            table_name = f"{name}_migrations"

    return History


def ordered(schemas: Sequence[Schema]) -> list[Schema]:
    """Core's schema first, then the plugins' sorted by name."""
    return sorted(schemas, key=lambda s: (s.name != "core", s.name))


def migrate(db: peewee.Database, schemas: Sequence[Schema]) -> list[str]:
    """Apply every pending migration, each in its own transaction."""
    applied = []
    for schema in ordered(schemas):
        history = _history_model(db, schema.name)
        with db.atomic():
            history.create_table(safe=True)
        for migration in schema.migrations:
            with db.atomic():
                if history.get_or_none(history.id == migration.id) is not None:
                    continue
                migration.apply(db)
                history.create(id=migration.id, applied_at=utcnow())
                applied.append(f"{schema.name}:{migration.id}")
    return applied
