"""Every form, fuzzed: long strings, unicode, control characters, CR/LF,
numbers out of range, missing and duplicated fields. Never a 500, and a
rejected submission leaves the stored state as it was."""

from __future__ import annotations

import re

from flask import url_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from core.db import bind
from core.models import Account, User
from tests.support.web import csrf_token

NAMES = re.compile(r'name="([\w-]+)"')
NASTY = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1000, max_size=5000),
    st.sampled_from(
        [
            "\r\nBcc: x@y.de",
            "\x00",
            "a\nb",
            "<script>",
            "' OR 1=1 --",
            "%s%s",
            "-1",
            "0",
            "99999999999999999999",
            "1e309",
            "NaN",
            "ünïcødé ✓",
            "",
            "x@y",
            "Name <evil@x.de>",
            "00000",
            "DE89 3704 0044 0532 0130 00",
        ]
    ),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
)
SKIP = {
    "core.logout",
    "remote_support.start_support",
    "remote_support.end_support",
    "remote_support.staff_logout",
    "remote_support.staff_login",
    "core.login",
    "core.register",
    "core.accept_invitation",
}


def _form_routes(app, client):
    """(endpoint, url, field names) of every POST form route for a logged-in user."""
    routes = []
    with app.test_request_context():
        rules = [
            r
            for r in app.url_map.iter_rules()
            if "POST" in r.methods and r.endpoint not in SKIP and not r.rule.startswith("/api/")
        ]
        urls = [(r.endpoint, url_for(r.endpoint, **{a: 1 for a in r.arguments}), r) for r in rules]
    for endpoint, url, rule in urls:
        fields: set[str] = set()
        if "GET" in rule.methods:
            fields |= set(NAMES.findall(client.get(url).get_data(as_text=True)))
        fields.discard("csrf_token")
        routes.append((endpoint, url, sorted(fields) or ["submit", "value"]))
    return routes


def _state(app, owner):
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
        )


def test_fuzzed_forms_never_fail_with_500(make_app, owner):
    from tests.conftest import PASSWORD
    from tests.support.web import login

    app = make_app({"KONTOR_LOGIN_LIMIT": "100000 per minute"})
    client = app.test_client()
    login(client, owner.email, PASSWORD)
    routes = _form_routes(app, client)
    assert len(routes) >= 12
    token = csrf_token(client, "/account/")

    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(route=st.sampled_from(routes), data=st.data())
    def fuzz(route, data):
        endpoint, url, fields = route
        chosen = data.draw(st.lists(st.sampled_from(fields), max_size=len(fields) + 3))
        form = MultiDict([("csrf_token", token)])
        for name in chosen:  # duplicates allowed, others missing
            form.add(name, data.draw(NASTY))
        before = _state(app, owner)
        response = client.post(url, data=form)
        assert response.status_code < 500, (endpoint, form, response.status_code)
        if response.status_code >= 400:
            assert _state(app, owner) == before, endpoint

    fuzz()
    assert client.get("/account/").status_code == 200  # still logged in: the posts were real
