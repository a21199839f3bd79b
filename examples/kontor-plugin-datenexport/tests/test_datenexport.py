"""The Datenexport section, tested with Kontor's fixtures (kontor.testing)."""

from core.testing import submit


def test_section_appears_and_leads_to_the_core_export(owner_client):
    overview = owner_client.get("/account/").get_data(as_text=True)
    assert 'href="/account/export"' in overview
    page = owner_client.get("/account/export").get_data(as_text=True)
    assert 'href="/account/profile#daten-exportieren"' in page
    profile = owner_client.get("/account/profile").get_data(as_text=True)
    assert 'id="daten-exportieren"' in profile


def test_the_export_it_leads_to_is_built_by_the_worker_and_mailed(
    owner_client, owner, run_jobs, sent_mail
):
    response = submit(
        owner_client, "/account/profile/export", {}, prefix="export-", page="/account/profile"
    )
    assert response.status_code == 302
    assert run_jobs() >= 1
    [mail] = sent_mail.to(owner.email)
    assert mail["Subject"] == "Ihr Datenexport ist bereit"


def test_members_and_read_only_support_see_the_section(member_client, support_client):
    assert member_client.get("/account/export").status_code == 200
    page = support_client.get("/account/export").get_data(as_text=True)
    assert "Datenexport" in page


def test_the_section_requires_login(app):
    response = app.test_client().get("/account/export")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
