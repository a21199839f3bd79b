"""The plan catalog: shipped default or the operator's ``KONTOR_PLANS_FILE``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import current_app

from core import ConfigError

LIMIT_KEYS = (
    "storage_bytes",
    "receipt_scans",
    "users",
    "cash_registers",
    "webshops",
    "shipping_providers",
)
SHIPPED = Path(__file__).with_name("plans.json")
MAX_AMOUNT = 10**15


@dataclass(frozen=True)
class Plan:
    key: str
    name: str
    price_month: int  # cents
    price_year: int  # cents
    limits: Mapping[str, int]

    def price(self, interval: str) -> int:
        return self.price_year if interval == "year" else self.price_month

    @property
    def yearly_saving(self) -> int:
        """What paying yearly saves against twelve monthly payments (cents, never negative)."""
        return max(0, 12 * self.price_month - self.price_year)


@dataclass(frozen=True)
class Catalog:
    plans: tuple[Plan, ...]
    default_plan: str
    trial_days: int

    def get(self, key: str) -> Plan | None:
        return next((p for p in self.plans if p.key == key), None)


def _fail(message: str) -> ConfigError:
    return ConfigError(f"KONTOR_PLANS_FILE: {message}")


def _amount(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_AMOUNT:
        raise _fail(f"{where} must be a whole number between 0 and {MAX_AMOUNT}")
    return value


def parse(data: Any) -> Catalog:
    """Validate a catalog document; every problem names where it is."""
    if not isinstance(data, dict) or not isinstance(data.get("plans"), list) or not data["plans"]:
        raise _fail("expected an object with a non-empty list 'plans'")
    plans = []
    for i, raw in enumerate(data["plans"]):
        if not isinstance(raw, dict):
            raise _fail(f"plans[{i}] must be an object")
        key, name = raw.get("key"), raw.get("name")
        if not isinstance(key, str) or not key.isidentifier() or len(key) > 50:
            raise _fail(f"plans[{i}].key must be a short identifier")
        if not isinstance(name, str) or not 0 < len(name) <= 50:
            raise _fail(f"plans[{i}].name must be a short text")
        limits = raw.get("limits")
        if not isinstance(limits, dict) or set(limits) != set(LIMIT_KEYS):
            raise _fail(f"plans[{i}].limits must have exactly {', '.join(LIMIT_KEYS)}")
        plans.append(
            Plan(
                key=key,
                name=name,
                price_month=_amount(raw.get("price_month"), f"plans[{i}].price_month"),
                price_year=_amount(raw.get("price_year"), f"plans[{i}].price_year"),
                limits={k: _amount(v, f"plans[{i}].limits.{k}") for k, v in limits.items()},
            )
        )
    keys = [p.key for p in plans]
    if len(set(keys)) != len(keys):
        raise _fail("plan keys must be unique")
    default = data.get("default_plan", keys[0])
    if default not in keys:
        raise _fail(f"default_plan {default!r} is not a plan")
    trial = data.get("trial_days", 0)
    if not isinstance(trial, int) or isinstance(trial, bool) or not 0 <= trial <= 365:
        raise _fail("trial_days must be between 0 and 365")
    return Catalog(tuple(plans), default, trial)


def load(path: str | None) -> Catalog:
    source = Path(path) if path else SHIPPED
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _fail(f"cannot read {source}: {exc}") from None
    return parse(data)


def catalog() -> Catalog:
    """The app's catalog, loaded once per app."""
    cache = current_app.extensions["kontor"].cache
    if "subscriptions.catalog" not in cache:
        cache["subscriptions.catalog"] = load(current_app.config["KONTOR_PLANS_FILE"])
    return cache["subscriptions.catalog"]
