"""The Datenexport section, tested with Kontor's fixtures (kontor.testing)."""


def test_section_appears_and_exports_every_plugins_data(owner_client, owner):
    overview = owner_client.get("/account/").get_data(as_text=True)
    assert 'href="/account/export"' in overview
    assert owner_client.get("/account/export").status_code == 200
    response = owner_client.get("/account/export/kontor-daten.json")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    document = response.json
    assert document["account_id"] == owner.account_id
    core = document["parts"]["core"]
    assert core["company"]["company_name"] == "Muster GmbH"
    assert [u["email"] for u in core["users"]] == ["erika@example.com"]
    assert "password" not in response.get_data(as_text=True).lower()


def test_export_contains_only_the_own_account(app, owner_client):
    from core.accounts import register
    from core.db import bind

    with app.app_context(), bind(app).connection_context():
        register("Fremd AG", "Vic", "Tim", "fremd@example.com", "fremd-passwort-123")
    body = owner_client.get("/account/export/kontor-daten.json").get_data(as_text=True)
    assert "Fremd AG" not in body and "fremd@example.com" not in body


def test_members_and_read_only_support_see_the_section(member_client, support_client):
    assert member_client.get("/account/export").status_code == 200
    page = support_client.get("/account/export").get_data(as_text=True)
    assert "Daten herunterladen" in page


def test_export_requires_login(app):
    response = app.test_client().get("/account/export/kontor-daten.json")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
