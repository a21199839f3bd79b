"""Databases for tests and benchmarks: a fresh PostgreSQL database, and the
SQL statements peewee runs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


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
    from core.data.db import bind
    from core.data.models import Account, User
    from core.security.twofactor import RecoveryCode, TwoFactor

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
