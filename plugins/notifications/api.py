"""Service API: ``GET /api/v1/accounts/<id>/notifications`` (the delivery log)."""

from __future__ import annotations

from flask import Response, jsonify, request

from core import fail, get_account, service_blueprint, utc_iso
from plugins.notifications.services import log_page

bp = service_blueprint("notifications", __name__)


@bp.get("/accounts/<int:account_id>/notifications")
def deliveries(account_id: int) -> Response:
    account = get_account(account_id)
    try:
        page = int(request.args.get("page", "1"))
        per_page = int(request.args.get("per_page", "50"))
    except ValueError:
        fail(422, "page and per_page must be whole numbers.")
    if not 1 <= page <= 100_000 or not 1 <= per_page <= 200:
        fail(422, "page must be 1 or more, per_page between 1 and 200.")
    rows, more = log_page(account, page, per_page)
    return jsonify(
        page=page,
        more=more,
        deliveries=[
            {
                "id": r.id,
                "event_id": r.event_id,
                "event_type": r.event_type,
                "channel": r.channel,
                "target": r.target,
                "status": r.status,
                "attempts": r.attempts,
                "error": r.error or None,
                "created_at": utc_iso(r.created_at),
                "sent_at": utc_iso(r.sent_at),
            }
            for r in rows
        ],
    )
