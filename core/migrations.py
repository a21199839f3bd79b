"""Per-owner migration histories: core first, then plugins by name.

Each schema keeps its own table ``<name>_migrations`` listing the applied
migration ids, so adding or removing a plugin never disturbs another's
history.
"""

from __future__ import annotations

from collections.abc import Sequence

import peewee

from core.db import utcnow
from core.types import Migration, Schema


def create_tables(migration_id: str, models: Sequence[type[peewee.Model]]) -> Migration:
    """A migration that creates ``models``' tables as they are defined now."""

    def apply(db: peewee.Database) -> None:
        db.create_tables(list(models), safe=False)

    return Migration(id=migration_id, apply=apply)


def add_columns(migration_id: str, table: str, **columns: str) -> Migration:
    """A migration that adds columns (name=SQL definition) to an existing table.

    Each definition needs a default so existing rows get a value, e.g.
    ``stage="VARCHAR(10) NOT NULL DEFAULT ''"`` (valid on SQLite and PostgreSQL).
    A column already there (the table was created from the current model by
    an earlier ``create_tables`` migration) is left alone.
    """

    def apply(db: peewee.Database) -> None:
        present = {column.name for column in db.get_columns(table)}
        for name, definition in columns.items():
            if name not in present:
                db.execute_sql(f'ALTER TABLE "{table}" ADD COLUMN "{name}" {definition}')

    return Migration(id=migration_id, apply=apply)


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
