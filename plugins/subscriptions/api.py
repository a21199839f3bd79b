"""Service API: usage reports and the subscription state."""

from __future__ import annotations

from flask import Response, current_app, jsonify

from core import get_account, json_body, service_blueprint, utc_iso
from plugins.subscriptions import services

bp = service_blueprint("subscriptions", __name__)


def _state(account) -> dict:
    sub = services.subscription(account)
    plan = services.plan_of(sub)
    pm = current_app.extensions["kontor"].pm
    return {
        "plan": plan.key,
        "plan_name": plan.name,
        "status": sub.status,
        "interval": sub.interval,
        "renews_at": None if sub.cancel_at_period_end else utc_iso(sub.period_end),
        "ends_at": utc_iso(sub.cancel_ends_at) if sub.cancel_at_period_end else None,
        "scheduled_plan": sub.scheduled_plan,
        "limits": dict(plan.limits),
        "usage": services.usage(account),
        "own_mail_account": pm.hook.kontor_mail_transport(account=account).own_account,
    }


@bp.put("/accounts/<int:account_id>/usage")
def put_usage(account_id: int) -> Response:
    account = get_account(account_id)
    body = json_body()
    services.report_usage(account, body)
    return jsonify(_state(account))


@bp.get("/accounts/<int:account_id>/subscription")
def get_subscription(account_id: int) -> Response:
    return jsonify(_state(get_account(account_id)))
