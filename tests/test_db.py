"""Database layer: compiled statements and connections kept between requests."""

from __future__ import annotations

import pytest

from core.db import Compiled, KontorSqliteDatabase, bind, open_database
from core.models import Account, User

ACCOUNT_WITH_OWNER = Compiled(
    lambda account_id, role: (
        User.select(User, Account)
        .join(Account)
        .where(Account.id == account_id, User.role == role)
        .limit(1)
    )
)
USERS_WITH_ACCOUNT = Compiled(
    lambda account_id: (
        User.select(User, Account).join(Account).where(Account.id == account_id).order_by(User.id)
    )
)
RENAME = Compiled(
    lambda account_id, name: Account.update(company_name=name).where(Account.id == account_id)
)


def test_compiled_select_returns_joined_models_like_peewee(ctx, owner, make_owner):
    other = make_owner("zweite@example.com", company="Zweite GmbH")
    for expected in (owner, other):
        row = ACCOUNT_WITH_OWNER.first(expected.account_id, "owner")
        plain = (
            User.select(User, Account)
            .join(Account)
            .where(Account.id == expected.account_id, User.role == "owner")
            .first()
        )
        assert row.id == plain.id == expected.id
        assert row.account.company_name == plain.account.company_name
        assert row.created_at == plain.created_at  # converted like peewee does
    assert ACCOUNT_WITH_OWNER.first(other.account_id, "member") is None


def test_compiled_select_returns_every_row_like_peewee(ctx, owner):
    for n in range(3):
        User.create(
            account=owner.account_id,
            email=f"person{n}@example.com",
            password_hash="",
            first_name="P",
            last_name=str(n),
            role="member",
        )
    rows = USERS_WITH_ACCOUNT.all(owner.account_id)
    plain = list(
        User.select(User, Account)
        .join(Account)
        .where(Account.id == owner.account_id)
        .order_by(User.id)
    )
    assert [(r.id, r.email, r.role, r.created_at) for r in rows] == [
        (p.id, p.email, p.role, p.created_at) for p in plain
    ]
    assert len(rows) == 4 and {r.account.company_name for r in rows} == {"Muster GmbH"}
    assert USERS_WITH_ACCOUNT.all(owner.account_id + 1000) == []


def test_compiled_update_reports_changed_rows(ctx, owner):
    assert RENAME.execute(owner.account_id, "Neu GmbH") == 1
    assert RENAME.execute(owner.account_id + 1000, "Niemand") == 0
    assert Account.get_by_id(owner.account_id).company_name == "Neu GmbH"


def test_compiled_refuses_wrong_use(ctx, owner):
    with pytest.raises(TypeError):
        RENAME.execute(owner.account_id)
    unused = Compiled(lambda account_id, ignored: Account.select().where(Account.id == account_id))
    with pytest.raises(TypeError, match="every parameter"):
        unused.first(owner.account_id, 1)
    assert Account.get_by_id(owner.account_id).company_name == "Muster GmbH"  # nothing ran


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


def test_version_changes_with_every_commit_and_only_then(app, ctx, owner):
    db = bind(app)
    before = db.version()
    Account.select().where(Account.id == owner.account_id).get()
    assert db.version() == before  # reads change nothing
    RENAME.execute(owner.account_id, "Eigene Verbindung GmbH")
    after_own = db.version()
    assert after_own != before  # this connection's own write
    other = open_database(app.config["KONTOR_DATABASE_URL"])
    with other.connection_context(), other.bind_ctx([Account]):
        Account.update(company_name="Andere GmbH").where(Account.id == owner.account_id).execute()
    assert db.version() != after_own  # another connection's commit
