"""Helpers for driving forms and the service API through the Flask test client."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient

SERVICE_TOKEN = "test-service-token-0123456789"
AUTH = {"Authorization": f"Bearer {SERVICE_TOKEN}"}
TOKEN_RE = re.compile(r'name="[\w-]*csrf_token"(?: type="hidden")? value="([^"]+)"')


def csrf_token(client: FlaskClient, url: str) -> str:
    """Fetch ``url`` and return the CSRF token of its first form."""
    page = client.get(url)
    match = TOKEN_RE.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {url} (status {page.status_code})"
    return match.group(1)


def submit(
    client: FlaskClient,
    url: str,
    data: dict[str, Any],
    prefix: str = "",
    follow: bool = False,
    page: str | None = None,
) -> Any:
    """POST a form the way a browser would: token from the page (``page``, by
    default ``url`` itself), then the fields."""
    token = csrf_token(client, page or url)
    fields = {f"{prefix}{k}": v for k, v in data.items()}
    return client.post(url, data={f"{prefix}csrf_token": token, **fields}, follow_redirects=follow)


def login(client: FlaskClient, email: str, password: str) -> Any:
    return submit(client, "/login", {"email": email, "password": password})


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
    from core.accounts import register
    from core.cli import apply_migrations
    from core.db import bind

    apply_migrations(app)
    with app.app_context(), bind(app).connection_context():
        register("Bench GmbH", "B", "C", "bench@example.com", "bench-passwort-1")
    client = app.test_client()
    login(client, "bench@example.com", "bench-passwort-1")
    return client
