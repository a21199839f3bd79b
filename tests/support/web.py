"""Helpers for driving forms and the service API through the Flask test client."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from core.testing import SERVICE_TOKEN, TOKEN_RE, csrf_token, login, submit

AUTH = {"Authorization": f"Bearer {SERVICE_TOKEN}"}
__all__ = ["SERVICE_TOKEN", "TOKEN_RE", "csrf_token", "login", "submit"]  # from kontor.testing


def invite(client: FlaskClient, email: str = "max@example.com", role: str = "member") -> Any:
    """Invite a user from the Benutzer page (queues the invitation mail)."""
    return submit(
        client,
        "/account/users",
        {"first_name": "Max", "last_name": "Meier", "email": email, "role": role},
    )


def send_customer_mail(client: FlaskClient, account_id: int, body: dict[str, Any]) -> Any:
    """POST a customer mail to the service API; return its state as the API reports it."""
    url = f"/api/v1/accounts/{account_id}/mails"
    posted = client.post(url, headers=AUTH, json=body)
    assert posted.status_code == 202, posted.get_data(as_text=True)
    return client.get(f"{url}/{posted.json['id']}", headers=AUTH).json


def section_urls(app: object) -> list[str]:
    """The URL of every settings section the app has (from the sections hook)."""
    from flask import url_for

    sections = app.extensions["kontor"].sections  # type: ignore[attr-defined]
    with app.test_request_context():  # type: ignore[attr-defined]
        return [url_for(s.endpoint) for s in sections]


def bench_owner(app: Any) -> FlaskClient:
    """Migrate a fresh app, register one account and return its owner's logged-in client."""
    from core.cli import apply_migrations
    from core.data.accounts import register
    from core.data.db import bind

    apply_migrations(app)
    with app.app_context(), bind(app).connection_context():
        register("Bench GmbH", "B", "C", "bench@example.com", "bench-passwort-1")
    client = app.test_client()
    login(client, "bench@example.com", "bench-passwort-1")
    return client
