"""The event bus: ``emit`` records an event and lets plugins react in the same
transaction (typically by writing outbox rows for the worker)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import peewee
from flask import current_app

from core.db import database
from core.models import Account, Event
from core.types import EventType, PlannedDelivery

MAX_DATA_BYTES = 16 * 1024


class UnknownEventType(ValueError):
    """No plugin declared this event type."""


@dataclass(frozen=True)
class Emitted:
    """The stored event, whether it is new, and what it will cause."""

    event: Event
    created: bool
    deliveries: tuple[PlannedDelivery, ...]


def event_types() -> list[EventType]:
    """All declared event types, in display order (collected when the app was created)."""
    return current_app.extensions["kontor"].event_types


def emit(
    account: Account,
    type: str,
    data: Mapping[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> Emitted:
    """Record an event for ``account`` and dispatch it through the hooks.

    With an ``idempotency_key`` that was used before for this account, the
    earlier event is returned and nothing is dispatched again.
    """
    if type not in {t.key for t in event_types()}:
        raise UnknownEventType(type)
    payload = json.dumps(dict(data or {}), ensure_ascii=False, sort_keys=True)
    if len(payload.encode()) > MAX_DATA_BYTES:
        raise ValueError("event data too large")
    pm = current_app.extensions["kontor"].pm
    with database.atomic():
        if idempotency_key is not None:
            existing = Event.get_or_none(
                Event.account == account, Event.idempotency_key == idempotency_key
            )
            if existing is not None:
                return Emitted(existing, False, ())
        fields = {"account": account, "type": type, "data_json": payload}
        if idempotency_key is None:
            event = Event.create(**fields)
        else:
            try:
                with database.atomic():  # a savepoint: a concurrent twin may win the key
                    event = Event.create(**fields, idempotency_key=idempotency_key)
            except peewee.IntegrityError:
                existing = Event.get(
                    Event.account == account, Event.idempotency_key == idempotency_key
                )
                return Emitted(existing, False, ())
        planned = pm.hook.kontor_event_emitted(event=event)
    return Emitted(event, True, tuple(d for result in planned for d in result or ()))
