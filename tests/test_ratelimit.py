"""Rate limits: only the listed methods count, and a refusal says when to try again."""

from __future__ import annotations

from tests.conftest import PASSWORD
from tests.support.web import login


def test_refusal_names_the_wait_in_retry_after(app, owner):
    client = app.test_client()
    statuses = [login(client, owner.email, "falsch-falsch").status_code for _ in range(10)]
    refused = login(client, owner.email, PASSWORD)  # right password, but too late
    assert statuses == [422] * 10
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60  # "10 per minute" ran out first
    assert "Zu viele Versuche" in refused.get_data(as_text=True)
    assert refused.headers["Cache-Control"] == "no-store"


def test_loading_a_limited_form_is_not_counted(app, owner):
    client = app.test_client()
    assert {client.get("/login").status_code for _ in range(30)} == {200}
    assert login(client, owner.email, PASSWORD).status_code == 302


def test_the_other_limits_of_a_spec_count_too(make_app, owner):
    """With "3 per hour;2 per day" the day's limit refuses the third request."""
    app = make_app({"KONTOR_LOGIN_LIMIT": "3 per hour;2 per day"})
    client = app.test_client()
    responses = [login(client, owner.email, "falsch-falsch") for _ in range(3)]
    assert [r.status_code for r in responses] == [422, 422, 429]
    assert int(responses[-1].headers["Retry-After"]) > 3600
