"""Service API: ``GET /api/v1/accounts/<id>/support-access``."""

from __future__ import annotations

from flask import Response, jsonify

from core import get_account, service_blueprint, utc_iso
from plugins.remote_support.services import access_log, active_grant

bp = service_blueprint("remote_support", __name__)


@bp.get("/accounts/<int:account_id>/support-access")
def support_access(account_id: int) -> Response:
    account = get_account(account_id)
    grant = active_grant(account)
    return jsonify(
        granted=grant is not None,
        grant=None
        if grant is None
        else {
            "scope": grant.scope,
            "granted_by": grant.granted_by_name,
            "granted_at": utc_iso(grant.granted_at),
            "expires_at": utc_iso(grant.expires_at),
        },
        log=[
            {"at": utc_iso(e.at), "actor": e.actor, "action": e.action, "detail": e.detail}
            for e in access_log(account)
        ],
    )
