"""Database layer: connections kept between requests."""

from __future__ import annotations

from core.db import KontorSqliteDatabase, bind, open_database
from core.models import Account


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


def test_customer_name_migration_adds_the_column_to_older_databases(ctx):
    from playhouse.migrate import SchemaMigrator, migrate

    from core.customer_mail import add_customer_name

    database = bind(ctx)

    def columns():
        return {c.name for c in database.get_columns("core_customer_mail")}

    add_customer_name(database)  # a new database has it already: nothing to do
    assert "customer_name" in columns()
    migrate(
        SchemaMigrator.from_database(database).drop_column("core_customer_mail", "customer_name")
    )
    assert "customer_name" not in columns()
    add_customer_name(database)
    assert "customer_name" in columns()
