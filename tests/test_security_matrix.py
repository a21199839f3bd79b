"""Security properties checked for every route of the URL map, so a new
plugin route is covered without editing these tests."""

from __future__ import annotations

from flask import url_for

from core.data.db import bind
from core.data.models import Account
from tests.support.web import csrf_token

PUBLIC = {
    "core.index",
    "core.login",
    "core.register",
    "core.accept_invitation",
    "core.sign_up_sent",
    "core.resend_sign_up",
    "core.confirm_sign_up",
    "core.forgot_password",
    "core.reset_password",
    "core.confirm_email",
    "core.set_language",
    "healthz",
    "readyz",
    "static",
    "remote_support.staff_login",
    "remote_support.console",
}


def _routes(app, method):
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if method not in rule.methods:
                continue
            values = {arg: 1 if "id" in arg else "x" for arg in rule.arguments}
            yield rule.endpoint, url_for(rule.endpoint, **values)


def test_every_post_without_csrf_token_is_refused(app, user_client, owner):
    routes = [(e, u) for e, u in _routes(app, "POST") if not u.startswith("/api/")]
    assert len(routes) >= 15
    for endpoint, url in routes:
        response = user_client.post(url, data={"company_name": "Ohne Token"})
        assert response.status_code == 400, endpoint
    with app.app_context(), bind(app).connection_context():
        assert Account.get_by_id(owner.account_id).company_name == "Muster GmbH"


def test_every_page_without_login_redirects_to_login(app, client):
    for endpoint, url in _routes(app, "GET"):
        if endpoint in PUBLIC or url.startswith("/api/"):
            continue
        response = client.get(url)
        assert response.status_code == 302, endpoint
        assert "/login" in response.headers["Location"], endpoint


def test_every_api_route_without_token_is_401(app, client):
    for method in ("GET", "POST", "PUT"):
        for endpoint, url in _routes(app, method):
            if not url.startswith("/api/") or endpoint == "openapi.openapi_json":
                continue  # the API description itself is public
            response = client.open(url, method=method, json={})
            assert response.status_code == 401, endpoint
            assert response.json["error"]["code"] == "unauthorized"


def test_ids_of_another_account_change_nothing(app, user_client, foreign_member):
    from core.data.models import User

    victim = foreign_member
    token = csrf_token(user_client, "/account/")
    with app.test_request_context():
        urls = [
            url_for(
                rule.endpoint,
                **{arg: victim.id if "id" in arg else "K-1" for arg in rule.arguments},
            )
            for rule in app.url_map.iter_rules()
            if rule.arguments
            and not rule.rule.startswith(("/api/", "/static", "/invitation", "/language"))
        ]
    assert urls
    for url in urls:
        for method in ("GET", "POST"):
            response = user_client.open(url, method=method, data={"csrf_token": token})
            body = response.get_data(as_text=True)
            assert "Fremd AG" not in body and "vic@example.com" not in body, url
    with app.app_context(), bind(app).connection_context():
        assert User.get_or_none(User.id == victim.id) is not None
