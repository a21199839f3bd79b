"""Service API skeleton: tokens, JSON errors, events with idempotency."""

from __future__ import annotations

import pytest
from flask import jsonify
from jsonschema.exceptions import SchemaError

from core import hookimpl
from core.contract.values import EventType, PlannedDelivery
from core.data.db import bind
from core.data.models import Account, Event
from core.web.api import json_body, service_blueprint
from tests.conftest import SERVICE_TOKEN
from tests.support.web import AUTH


class Recorder:
    __name__ = "recorder"

    def __init__(self):
        self.seen = []

    @hookimpl
    def kontor_event_types(self):
        return [EventType("test.happened", "Test", order=1)]

    @hookimpl
    def kontor_event_emitted(self, event):
        self.seen.append(event.id)
        return [PlannedDelivery("email", "x@example.com", "pending")]


@pytest.fixture
def recorder():
    return Recorder()


@pytest.fixture
def api(make_app, recorder):
    return make_app(plugins=(recorder,)).test_client()


def test_missing_or_wrong_token_is_401_json(api, owner):
    for headers in ({}, {"Authorization": "Bearer falsch"}, {"Authorization": SERVICE_TOKEN}):
        response = api.get(f"/api/v1/accounts?email={owner.email}", headers=headers)
        assert response.status_code == 401
        assert response.json["error"]["code"] == "unauthorized"


def test_no_tokens_configured_means_401(make_app, owner):
    client = make_app({"KONTOR_SERVICE_TOKENS": ""}).test_client()
    assert client.get("/api/v1/accounts?email=x@y.de", headers=AUTH).status_code == 401


def test_accounts_by_email(api, owner):
    response = api.get(
        "/api/v1/accounts", query_string={"email": "ERIKA@example.com"}, headers=AUTH
    )
    assert response.status_code == 200
    [account] = response.json["accounts"]
    assert account["id"] == owner.account_id
    assert account["company_name"] == "Muster GmbH"


def test_unknown_account_is_404_json(api):
    response = api.post("/api/v1/accounts/999/events", json={"type": "test.happened"}, headers=AUTH)
    assert response.status_code == 404
    assert response.json == {"error": {"code": "not_found", "message": "No such account."}}


def test_event_is_accepted_once_per_idempotency_key(app, api, owner, recorder):
    body = {"type": "test.happened", "data": {"n": 1}, "idempotency_key": "abc"}
    url = f"/api/v1/accounts/{owner.account_id}/events"
    first = api.post(url, json=body, headers=AUTH)
    second = api.post(url, json=body, headers=AUTH)
    assert first.status_code == 202 and second.status_code == 202
    assert first.json["id"] == second.json["id"]
    assert {"channel": "email", "target": "x@example.com", "status": "pending"} in first.json[
        "deliveries"
    ]
    assert second.json["created"] is False
    assert recorder.seen == [first.json["id"]]
    with app.app_context(), bind(app).connection_context():
        assert Event.select().count() == 1


def test_bad_events_are_422_with_fields(api, owner):
    url = f"/api/v1/accounts/{owner.account_id}/events"
    unknown = api.post(url, json={"type": "no.such"}, headers=AUTH)
    assert unknown.status_code == 422 and unknown.json["error"]["fields"] == {"type": "unknown"}
    bad = api.post(url, json={"type": 5, "data": [], "idempotency_key": ""}, headers=AUTH)
    assert bad.status_code == 422
    assert set(bad.json["error"]["fields"]) == {"type", "data", "idempotency_key"}
    not_json = api.post(url, data="type=x", headers=AUTH)
    assert not_json.status_code == 415
    garbage = api.post(url, data="{", headers={**AUTH, "Content-Type": "application/json"})
    assert garbage.status_code == 400 and "error" in garbage.json


def test_nul_and_control_characters_are_422_on_every_database(app, api, owner):
    url = f"/api/v1/accounts/{owner.account_id}/events"
    lookup = api.get("/api/v1/accounts", query_string={"email": "a\x00@example.com"}, headers=AUTH)
    assert lookup.status_code == 422 and "email" in lookup.json["error"]["fields"]
    tab = api.get("/api/v1/accounts", query_string={"email": "a\t@example.com"}, headers=AUTH)
    assert tab.status_code == 422
    key = api.post(url, json={"type": "test.happened", "idempotency_key": "k\n1"}, headers=AUTH)
    assert key.status_code == 422 and set(key.json["error"]["fields"]) == {"idempotency_key"}
    data = api.post(url, json={"type": "test.happened", "data": {"x": "a\x00b"}}, headers=AUTH)
    assert data.status_code == 422 and "NUL" in data.json["error"]["message"]
    with app.app_context(), bind(app).connection_context():
        assert Event.select().count() == 0


def test_oversized_body_is_413(api, owner):
    url = f"/api/v1/accounts/{owner.account_id}/events"
    response = api.post(
        url, json={"type": "test.happened", "data": {"x": "a" * 2_000_000}}, headers=AUTH
    )
    assert response.status_code == 413
    assert response.json["error"]["code"] == "payload_too_large"


def test_api_needs_no_csrf_but_pages_do(api, owner, user_client):
    response = api.post(
        f"/api/v1/accounts/{owner.account_id}/events", json={"type": "test.happened"}, headers=AUTH
    )
    assert response.status_code == 202
    page = user_client.post("/account/company", data={"company_name": "Ohne Token"})
    assert page.status_code == 400
    assert "Das Formular ist abgelaufen" in page.get_data(as_text=True)


def test_unknown_api_route_is_json_404(api):
    response = api.get("/api/v1/nothing", headers=AUTH)
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"


class NotesPlugin:
    """A plugin route whose body rules exist only in its OpenAPI path item."""

    __name__ = "notes"

    def __init__(self):
        self.bp = service_blueprint("notes", __name__)
        self.bp.post("/accounts/<int:account_id>/notes")(lambda account_id: jsonify(json_body()))

    @hookimpl
    def kontor_blueprints(self):
        return [self.bp]

    @hookimpl
    def kontor_openapi_paths(self):
        note = {
            "type": "object",
            "required": ["title"],
            "additionalProperties": False,
            "properties": {
                "title": {"type": "string", "maxLength": 5, "format": "printable"},
                "pages": {"type": "integer", "minimum": 1},
                "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
            },
        }
        return {
            "/accounts/{account_id}/notes": {
                "post": {
                    "requestBody": {"content": {"application/json": {"schema": note}}},
                    "responses": {"200": {"description": "OK"}},
                }
            }
        }


def test_plugin_request_bodies_are_held_to_their_documented_schema(make_app, owner):
    api = make_app(plugins=(NotesPlugin(),)).test_client()
    url = f"/api/v1/accounts/{owner.account_id}/notes"
    ok = api.post(url, json={"title": "Hallo", "pages": 2, "tags": ["a"]}, headers=AUTH)
    assert ok.status_code == 200 and ok.json["title"] == "Hallo"
    bad = api.post(
        url,
        json={"pages": 1.0, "tags": ["a", "b", "c"], "geheim-" + "x" * 80: 1},
        headers=AUTH,
    )
    assert bad.status_code == 422 and bad.json["error"]["code"] == "unprocessable_entity"
    assert bad.json["error"]["fields"] == {
        "title": "required",
        "pages": "expected integer",  # 1.0 is no whole number here
        "tags": "at most 2 items",
        "geheim-" + "x" * 43: "unknown field; one of title, pages, tags",
    }
    for title, message in (("zu lang", "at most 5 characters"), ("a\u202eb", "printable")):
        refused = api.post(url, json={"title": title}, headers=AUTH)
        assert refused.status_code == 422
        assert message in refused.json["error"]["fields"]["title"]
        assert title not in refused.get_data(as_text=True)  # the value is not echoed
    empty = api.post(url, json=[], headers=AUTH)
    assert empty.status_code == 400


def test_customer_mail_fields_follow_the_document(app, owner):
    api = app.test_client()
    url = f"/api/v1/accounts/{owner.account_id}/mails"
    for body, field in (
        ({"to": "a@b.de", "subject": "   ", "text": "T"}, "subject"),
        ({"to": "a@b.de", "subject": "S\u200f", "text": "T"}, "subject"),
        ({"to": "a@b.de", "subject": "S", "text": "T", "customer_ref": "K\t1"}, "customer_ref"),
        ({"to": ["a@b.de"] * 21, "subject": "S", "text": "T"}, "to"),
        ({"to": "a@b.de", "subject": "S"}, "text"),
    ):
        response = api.post(url, json=body, headers=AUTH)
        assert response.status_code == 422 and field in response.json["error"]["fields"], body


def test_a_malformed_body_schema_stops_the_start(make_app):
    class Broken(NotesPlugin):
        @hookimpl
        def kontor_openapi_paths(self):
            body = {"content": {"application/json": {"schema": {"type": "strin"}}}}
            return {"/accounts/{account_id}/notes": {"post": {"requestBody": body}}}

    with pytest.raises(SchemaError):
        make_app(plugins=(Broken(),))


def test_event_nobody_wants_is_stored_without_a_transaction(app, owner, monkeypatch):
    """With every notification off for the event, storing it is one insert
    outside a transaction; with one on, the event and its delivery commit together."""
    from plugins.notifications.models import Delivery
    from plugins.notifications.services import save_preferences
    from tests.support.db import statements

    transactions = []
    begin = bind(app).begin
    monkeypatch.setattr(bind(app), "begin", lambda *a: transactions.append(1) or begin(*a))
    with app.app_context(), bind(app).connection_context():
        save_preferences(Account.get_by_id(owner.account_id), [])
    url = f"/api/v1/accounts/{owner.account_id}/events"
    client = app.test_client()
    transactions.clear()
    with statements() as sql:
        quiet = client.post(url, json={"type": "quote.accepted"}, headers=AUTH)
    assert quiet.status_code == 202 and quiet.json["deliveries"] == []
    assert transactions == []
    assert [str(s).split('"')[1] for s in sql] == [
        "core_account",
        "notifications_preference",
        "core_event",
    ]
    with app.app_context(), bind(app).connection_context():
        save_preferences(Account.get_by_id(owner.account_id), [("quote.accepted", "email")])
    transactions.clear()
    loud = client.post(url, json={"type": "quote.accepted"}, headers=AUTH)
    assert [d["channel"] for d in loud.json["deliveries"]] == ["email"]
    assert transactions == [1]
    with app.app_context(), bind(app).connection_context():
        assert Event.select().count() == 2
        assert [d.event_id for d in Delivery.select()] == [loud.json["id"]]
