"""Databases for tests and benchmarks: a fresh PostgreSQL database, and the
SQL statements peewee runs."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit


class _Statements(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.sql: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == "peewee":  # not the pool's messages
            self.sql.append(str(record.msg))


@contextmanager
def statements() -> Iterator[list[str]]:
    """The SQL statements peewee runs inside the block, as they run."""
    handler = _Statements()
    log = logging.getLogger("peewee")
    level = log.level
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    try:
        yield handler.sql
    finally:
        log.removeHandler(handler)
        log.setLevel(level)


def owner_state(app: Any, owner: Any) -> tuple[Any, ...]:
    """What a refused request must leave as it was: the owner's account and
    user data, password hash and confirmed two-factor login included (a key
    waiting for its set-up is not), and the number of users in the account."""
    from core.db import bind
    from core.models import Account, User
    from core.twofactor import RecoveryCode, TwoFactor

    with app.app_context(), bind(app).connection_context():
        account = Account.get_by_id(owner.account_id)
        user = User.get_by_id(owner.id)
        return (
            account.company_name,
            account.notification_email,
            account.mobile_number,
            user.email,
            user.first_name,
            user.last_name,
            user.password_hash,
            account.two_factor_required,
            [
                (t.enabled_at, t.last_step)
                for t in TwoFactor.select().where(
                    TwoFactor.user == user, TwoFactor.enabled_at.is_null(False)
                )
            ],
            [
                (c.code_hash, c.used_at)
                for c in RecoveryCode.select().where(RecoveryCode.user == user)
            ],
            User.select().where(User.account == owner.account_id).count(),
        )


@contextmanager
def fresh_postgres_database(base: str, prefix: str) -> Iterator[str]:
    """A new PostgreSQL database on ``base``'s server (created through its
    ``postgres`` database), yielded as a URL and dropped afterwards."""
    import psycopg2

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(urlunsplit(urlsplit(base)._replace(path="/postgres")))
    admin.autocommit = True
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
