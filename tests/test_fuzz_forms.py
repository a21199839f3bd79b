"""Every form, fuzzed: long strings, unicode, control characters, CR/LF, NUL,
numbers out of range, missing and duplicated fields, sent urlencoded, as
multipart with file parts, or as JSON with numbers, lists, objects and deep
nesting where text belongs; path segments with NUL and huge numbers. Never a
500, and a rejected submission leaves the stored state as it was (on SQLite
and, with KONTOR_TEST_DATABASE_URL, on PostgreSQL)."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict
from werkzeug.routing import Rule

from core.data.accounts import invite_user
from core.data.db import bind
from tests.conftest import PASSWORD
from tests.support.db import owner_state
from tests.support.fuzz import FILE_PART, JSON_VALUE, RAW_JSON_BODIES, REMOTE_ADDR, SEGMENT, TEXT
from tests.support.web import csrf_token, login

NAMES = re.compile(r'name="([\w-]+)"')
INT_ARG = re.compile(r"<int:(\w+)>")
#: Forms for visitors who are not logged in, fuzzed by their own test.
ENTRY = {
    "core.login",
    "core.register",
    "core.accept_invitation",
    "remote_support.staff_login",
}
#: POSTs that end the session or need a staff login: the posts must stay real.
SKIP = {
    "core.logout",
    "core.end_user_session",  # its own session is id 1: tests/test_sign_ins.py covers it
    "remote_support.start_support",
    "remote_support.end_support",
    "remote_support.staff_logout",
}


def _form_routes(app, client, endpoints):
    """(rule, field names) of every POST form route among ``endpoints``."""
    adapter = app.url_map.bind("localhost")
    routes = []
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods or rule.endpoint not in endpoints:
            continue
        fields: set[str] = set()
        if "GET" in rule.methods:
            url = adapter.build(rule.endpoint, dict.fromkeys(rule.arguments, 1))
            fields |= set(NAMES.findall(client.get(url).get_data(as_text=True)))
        fields.discard("csrf_token")
        routes.append((rule, sorted(fields) or ["submit", "value"]))
    return routes


def _url(app, rule: Rule, data, valid: dict[str, object]) -> str:
    """The rule's URL with valid arguments, or now and then a huge number or odd text."""
    values = {}
    for name in rule.arguments:
        odd = data.draw(st.booleans())
        if name in INT_ARG.findall(rule.rule):
            values[name] = data.draw(SEGMENT.filter(lambda v: isinstance(v, int))) if odd else 1
        else:
            values[name] = data.draw(SEGMENT) if odd else valid.get(name, "x")
    return app.url_map.bind("localhost").build(rule.endpoint, values)


def _post(client, url, token, fields, data):
    """POST drawn values for ``fields`` (some missing, some twice) in a drawn encoding."""
    encoding = data.draw(st.sampled_from(["form", "multipart", "json", "raw json"]))
    remote = {"REMOTE_ADDR": data.draw(REMOTE_ADDR)}
    chosen = data.draw(st.lists(st.sampled_from(fields), max_size=len(fields) + 3))
    if encoding == "json":
        body = {name: data.draw(JSON_VALUE) for name in chosen}
        return client.post(
            url, json=body, headers={"X-CSRFToken": token}, environ_overrides=remote
        ), body
    if encoding == "raw json":
        body = data.draw(RAW_JSON_BODIES)
        headers = {"X-CSRFToken": token, "Content-Type": "application/json"}
        return client.post(url, data=body, headers=headers, environ_overrides=remote), body[:80]
    form = MultiDict([("csrf_token", token)])
    values = TEXT | FILE_PART if encoding == "multipart" else TEXT
    for name in chosen:
        form.add(name, data.draw(values))
    content_type = "multipart/form-data" if encoding == "multipart" else None
    shown = [(k, v if isinstance(v, str) else "<file>") for k, v in form.items(multi=True)]
    response = client.post(url, data=form, content_type=content_type, environ_overrides=remote)
    return response, shown


def _fuzz_settings(examples: int):
    return settings(
        max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )


def test_fuzzed_forms_never_fail_with_500(make_app, owner):
    app = make_app({"KONTOR_LOGIN_LIMIT": "100000 per minute"})
    client = app.test_client()
    login(client, owner.email, PASSWORD)
    endpoints = {r.endpoint for r in app.url_map.iter_rules()} - SKIP - ENTRY
    routes = [(r, f) for r, f in _form_routes(app, client, endpoints) if "/api/" not in r.rule]
    assert len(routes) >= 12
    token = csrf_token(client, "/account/")

    @_fuzz_settings(250)
    @given(route=st.sampled_from(routes), data=st.data())
    def fuzz(route, data):
        rule, fields = route
        before = owner_state(app, owner)
        response, sent = _post(client, _url(app, rule, data, {}), token, fields, data)
        assert response.status_code < 500, (rule.endpoint, sent, response.status_code)
        if response.status_code >= 400:
            assert owner_state(app, owner) == before, rule.endpoint

    fuzz()
    assert client.get("/account/").status_code == 200  # still logged in: the posts were real


def test_fuzzed_entry_forms_never_fail_with_500(make_app, roomy_owner):
    """Login, registration, invitation and staff login, as a visitor."""
    app = make_app({"KONTOR_LOGIN_LIMIT": "100000 per minute"})
    with app.app_context(), bind(app).connection_context():
        _, invitation = invite_user(
            roomy_owner.account, "Ina", "Eingeladen", "ina@example.com", "member"
        )
    client = app.test_client()
    routes = _form_routes(app, client, ENTRY)
    assert {r.endpoint for r, _ in routes} == ENTRY
    token = csrf_token(client, "/login")
    owner = roomy_owner

    @_fuzz_settings(120)
    @given(route=st.sampled_from(routes), data=st.data())
    def fuzz(route, data):
        rule, fields = route
        before = owner_state(app, owner)
        url = _url(app, rule, data, {"token": invitation})
        response, sent = _post(client, url, token, fields, data)
        assert response.status_code < 500, (rule.endpoint, sent, response.status_code)
        assert owner_state(app, owner) == before, rule.endpoint
        client.post("/logout", data={"csrf_token": token})  # a lucky guess stays a visitor

    fuzz()


def test_fuzzed_query_strings_and_segments_of_pages_never_fail_with_500(make_app, owner):
    """Every page's GET, with NUL, huge numbers and odd text in its query
    parameters (page, plan, next, ...) and path segments."""
    app = make_app()
    client = app.test_client()
    login(client, owner.email, PASSWORD)
    rules = [
        r
        for r in app.url_map.iter_rules()
        if "GET" in r.methods and not r.rule.startswith(("/api/", "/static/"))
    ]
    names = st.sampled_from(["page", "per_page", "plan", "next", "ref", "token"]) | TEXT

    @_fuzz_settings(150)
    @given(rule=st.sampled_from(rules), data=st.data())
    def fuzz(rule, data):
        url = _url(app, rule, data, {})
        query = data.draw(st.dictionaries(names, TEXT, max_size=3))
        response = client.get(url, query_string=query)
        assert response.status_code < 500, (rule.endpoint, url, query, response.status_code)

    fuzz()
    assert client.get("/account/").status_code == 200
