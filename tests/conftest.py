"""Fixtures: an app on a fresh database, clients, users and real servers.

The database (``database_url``), the instance settings and the form helpers
come from ``kontor.testing`` (core/testing.py), which plugin authors use; the
project's own ``app`` runs jobs at once in-process (``memory://`` queue).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from core.data.accounts import invite_user, register
from core.data.db import bind
from core.testing import CREDITOR_ID, PASSWORD, SERVICE_TOKEN
from tests.support.web import login

__all__ = ["CREDITOR_ID", "PASSWORD", "SERVICE_TOKEN"]  # imported by tests from here

pytest_plugins = ("tests.support.browser", "tests.support.mailservers")

# Plugin packages with test suites of their own, run by the tests that use them.
collect_ignore = ["fixtures"]

# The operator as seller on subscription invoices (a checksum-valid USt-IdNr.).
SELLER = {
    "KONTOR_SELLER_NAME": "Kontor Test GmbH",
    "KONTOR_SELLER_STREET": "Musterstraße 1",
    "KONTOR_SELLER_POSTAL_CODE": "10115",
    "KONTOR_SELLER_CITY": "Berlin",
    "KONTOR_SELLER_VAT_ID": "DE136695976",
    "KONTOR_SELLER_TAX_NUMBER": "30/123/45678",
}


@pytest.fixture
def kontor_config() -> dict[str, Any]:
    """The project's own tests run jobs at once, in the request (kontor.testing's
    apps queue them for ``run_jobs``)."""
    return {"KONTOR_QUEUE_URL": "memory://"}


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    """An app context with an open connection, for calling services directly."""
    with app.app_context():
        db = bind(app)
        with db.connection_context():
            yield app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> Any:
    return app.test_cli_runner()


@pytest.fixture
def make_owner(app: Flask) -> Callable[..., Any]:
    """Register an account with its owner and return the owner."""

    def factory(email: str | None = None, company: str = "Muster GmbH") -> Any:
        email = email or f"inhaber-{secrets.token_hex(4)}@example.com"
        with app.app_context(), bind(app).connection_context():
            return register(company, "Erika", "Mustermann", email, PASSWORD)

    return factory


@pytest.fixture
def owner(make_owner: Callable[..., Any]) -> Any:
    return make_owner("erika@example.com")


@pytest.fixture
def user_client(app: Flask, owner: Any) -> FlaskClient:
    """A client logged in as the owner of "Muster GmbH"."""
    client = app.test_client()
    response = login(client, owner.email, PASSWORD)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def require_binary(path: str) -> None:
    """Fail (never skip) when a system component the test needs is missing."""
    if not Path(path).exists():
        pytest.fail(f"{path} is not installed (install it as .ci/run does)")


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[Any]:
    """aiosmtpd with STARTTLS (certificate from a test CA) and AUTH required."""
    from tests.support.smtp import start_smtp

    server = start_smtp(tmp_path)
    yield server
    server.stop()


def upgrade(app: Flask, account: Any, plan: str = "premium") -> None:
    """Move an account to a plan with room for more users."""
    from plugins.subscriptions.services import change_plan

    with app.app_context(), bind(app).connection_context():
        change_plan(account, plan)


@pytest.fixture
def roomy_owner(app: Flask, owner: Any) -> Any:
    """The owner, on a plan that allows ten users."""
    upgrade(app, owner.account)
    return owner


@pytest.fixture
def member_client(app: Flask, roomy_owner: Any) -> FlaskClient:
    """A client logged in as a plain member of the owner's account."""
    from core.data.models import User
    from core.security.auth import hash_password

    with app.app_context(), bind(app).connection_context():
        member, _ = invite_user(roomy_owner.account, "Mia", "Mitglied", "mia@example.com", "member")
        User.update(password_hash=hash_password(PASSWORD)).where(User.id == member.id).execute()
    client = app.test_client()
    assert login(client, "mia@example.com", PASSWORD).status_code == 302
    return client


@pytest.fixture
def foreign_member(app: Flask, make_owner: Callable[..., Any]) -> Any:
    """A member of another account, "Fremd AG", that the logged-in owner must never reach."""
    other = make_owner("fremd@example.com", company="Fremd AG")
    upgrade(app, other.account)
    with app.app_context(), bind(app).connection_context():
        member, _ = invite_user(other.account, "Vic", "Tim", "vic@example.com", "member")
    return member
