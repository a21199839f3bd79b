"""Every page, as owner, member and support in both scopes: no live form that
the role may not post (issue #16, item 4).

The expectation here is written down independently of ``core.web.permissions``:
who may write where comes from the support policy table and the list of
owner/admin-only endpoints below, so a page and its guard cannot both be
wrong in the same way unnoticed.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from werkzeug.exceptions import HTTPException

from plugins.subscriptions.catalog import catalog
from tests.plugins.remote_support.conftest import grant_access, start_session
from tests.plugins.remote_support.test_support_scope import (
    EXIT,
    FULL,
    SUPPORT_WRITE_POLICY,
)
from tests.support.web import section_urls

# Writes only owners and admins may make.
MANAGERS_ONLY = re.compile(
    r"^(core\.(company|users|remove_user)|remote_support\.(save|revoke)"
    r"|subscriptions\..*|mail_transport\..*)$"
)
SUB_PAGES = [
    "/account/subscription/cancel",
    "/account/subscription/billing",
]
# Forms each role must still see: the page is not just empty.
EXPECTED = {
    "owner": {"core.company", "core.profile", "core.change_password", "notifications.save"},
    "member": {"core.profile", "core.change_password", "notifications.save"},
    "support_read": {"remote_support.end_support"},
    "support_full": {"core.profile", "notifications.save", "remote_support.end_support"},
}


def may_post(role: str, endpoint: str) -> bool:
    if role == "owner":
        return True
    if role == "member":
        return not MANAGERS_ONLY.match(endpoint)
    decision = SUPPORT_WRITE_POLICY[endpoint]
    return decision == EXIT or (role == "support_full" and decision == FULL)


class _Forms(HTMLParser):
    """The post forms of a page, and whether anything outside them is editable."""

    def __init__(self) -> None:
        super().__init__()
        self.actions: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "get").lower() == "post":
            self.actions.append(a.get("action"))


def _endpoint(app, url: str) -> str:
    path = url.split("?")[0]
    try:
        endpoint, _args = app.url_map.bind("localhost").match(path, method="POST")
    except HTTPException as exc:  # a form must post somewhere that takes posts
        raise AssertionError(f"form posts to {url}: {exc}") from exc
    return endpoint


@pytest.fixture(params=["owner", "member", "support_read", "support_full"])
def role(request, app, roomy_owner, user_client):
    if request.param == "owner":
        return request.param, user_client
    if request.param == "member":
        return request.param, request.getfixturevalue("member_client")
    staff_client = request.getfixturevalue("staff_client")
    grant_access(user_client, scope="read" if request.param == "support_read" else "full")
    assert start_session(staff_client, roomy_owner.account_id).status_code == 302
    return request.param, staff_client


def test_no_page_shows_a_form_the_role_cannot_save(app, role):
    name, client = role
    with app.app_context():
        plans = [p.key for p in catalog().plans]
    pages = [
        *section_urls(app),
        *SUB_PAGES,
        *(f"/account/subscription/change?plan={key}" for key in plans),
    ]
    seen: set[str] = set()
    for url in pages:
        response = client.get(url)
        if response.status_code == 403:  # the whole page is closed (Benutzer for members)
            assert name == "member" and url == "/account/users", url
            continue
        assert response.status_code == 200, (name, url, response.status_code)
        parser = _Forms()
        parser.feed(response.get_data(as_text=True))
        for action in parser.actions:
            endpoint = _endpoint(app, action or url)
            assert may_post(name, endpoint), (name, url, endpoint)
            seen.add(endpoint)
    assert EXPECTED[name] <= seen, (name, EXPECTED[name] - seen)


# What each overview card leads to may change, by the forms of its page.
CARD_WRITES = {
    "Nutzerdaten": ["core.profile"],
    "Meine Firma": ["core.company"],
    "Benachrichtigungen": ["notifications.save"],
    "Support": ["remote_support.save"],
    "Abonnement": ["subscriptions.billing", "subscriptions.confirm_change", "subscriptions.cancel"],
    "E-Mail-Versand": ["mail_transport.save"],
}


def test_overview_cards_offer_bearbeiten_only_where_the_role_can_write(app, role):
    name, client = role
    html = client.get("/account/").get_data(as_text=True)
    for title, endpoints in CARD_WRITES.items():
        link = re.search(rf'>(\w+)<span class="visually-hidden">: {title}</span></a>', html)
        assert link, (name, title)
        writable = any(may_post(name, e) for e in endpoints)
        assert link[1] == ("Bearbeiten" if writable else "Ansehen"), (name, title)


def test_locked_pages_say_why(app, role):
    name, client = role
    company = client.get("/account/company").get_data(as_text=True)
    support = client.get("/account/support").get_data(as_text=True)
    if name == "owner":
        assert "hint locked" not in company + support
        return
    why = {
        "member": "Nur Inhaber und Administratoren können die Firmendaten ändern.",
        "support_read": "Im Umfang „Nur lesen“ kann der Support nichts ändern.",
        "support_full": "Diese Änderung ist in einer Support-Sitzung nicht erlaubt.",
    }[name]
    assert why in company
    assert 'name="company_name"' in company and "disabled" in company  # values still shown
    assert "hint locked" in support


def test_notification_matrix_reads_as_text_where_it_cannot_be_saved(app, role):
    """Read-only support sees each event and channel as "an"/"aus" (text plus
    colour, a row per event on a phone), not a grid of disabled checkboxes
    that scrolls sideways without a way to reach it by keyboard."""
    name, client = role
    html = client.get("/account/notifications").get_data(as_text=True)
    matrix = html[html.index("<table") : html.index("</table>")]
    if may_post(name, "notifications.save"):
        assert 'type="checkbox"' in matrix and "status-ok" not in matrix
        return
    assert 'type="checkbox"' not in matrix
    cells = re.findall(
        r'<td data-label="[^"]+"><span class="(status-\w+)">(an|aus)</span></td>', matrix
    )
    assert cells and {c for _, c in cells} <= {"an", "aus"}
    assert ("status-ok", "an") in cells
