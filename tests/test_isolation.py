"""Tenant isolation and limits on what a request may carry."""

from __future__ import annotations

from core.data.db import bind
from core.data.models import Account, User
from tests.support.web import csrf_token, submit


def test_user_of_one_account_cannot_remove_user_of_another(app, user_client, foreign_member):
    victim = foreign_member
    token = csrf_token(user_client, "/account/users")
    response = user_client.post(
        f"/account/users/{victim.id}/remove", data={"csrf_token": token}, follow_redirects=True
    )
    assert "Benutzer nicht gefunden." in response.get_data(as_text=True)
    with app.app_context(), bind(app).connection_context():
        assert User.get_or_none(User.id == victim.id) is not None


def test_company_form_ignores_account_ids_sent_by_the_client(app, user_client, owner, make_owner):
    other = make_owner("c@example.com", company="Firma C")
    response = submit(
        user_client,
        "/account/company",
        {
            "company_name": "Geändert",
            "account_id": str(other.account_id),
            "id": str(other.account_id),
        },
    )
    assert response.status_code == 302
    with app.app_context(), bind(app).connection_context():
        assert Account.get_by_id(other.account_id).company_name == "Firma C"
        assert Account.get_by_id(owner.account_id).company_name == "Geändert"


def test_user_list_shows_only_own_account(user_client, make_owner):
    make_owner("fremd@example.com", company="Fremd AG")
    page = user_client.get("/account/users").get_data(as_text=True)
    assert "fremd@example.com" not in page and "erika@example.com" in page


def test_oversized_form_body_is_413_and_changes_nothing(app, user_client, owner):
    token = csrf_token(user_client, "/account/company")
    response = user_client.post(
        "/account/company", data={"csrf_token": token, "company_name": "x" * 2_000_000}
    )
    assert response.status_code == 413
    assert "Die gesendeten Daten sind zu groß." in response.get_data(as_text=True)
    with app.app_context(), bind(app).connection_context():
        assert Account.get_by_id(owner.account_id).company_name == "Muster GmbH"


def test_security_headers_on_account_pages(user_client):
    response = user_client.get("/account/")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


def test_ids_beyond_a_row_id_are_404_not_500(user_client):
    token = csrf_token(user_client, "/account/users")
    huge = 2**64
    response = user_client.post(f"/account/users/{huge}/remove", data={"csrf_token": token})
    assert response.status_code == 404
