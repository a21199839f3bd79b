"""A support session for an account id no database can hold is refused, not a 500."""

from __future__ import annotations

import pytest

from tests.support.web import csrf_token


@pytest.mark.parametrize("account_id", [str(10**30), str(2**63), "-1", "0", "1e5", "x"])
def test_huge_account_id_for_a_support_session_is_refused(app, staff_client, owner, account_id):
    token = csrf_token(staff_client, "/staff/")
    response = staff_client.post(
        "/staff/sessions",
        data={"csrf_token": token, "account_id": account_id, "reason": "Ticket 1"},
    )
    assert 300 <= response.status_code < 500
    assert staff_client.get("/account/").status_code != 200  # no support session started
