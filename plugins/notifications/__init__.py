"""Benachrichtigungen: the ``notifications`` plugin."""

from __future__ import annotations

from collections.abc import Sequence

from flask import Blueprint
from flask_babel import lazy_gettext as _l

from core import hookimpl
from core.types import Section
from plugins.notifications import views


@hookimpl
def kontor_blueprints() -> Sequence[Blueprint]:
    return [views.bp]


@hookimpl
def kontor_settings_sections() -> Sequence[Section]:
    return [Section("notifications", _l("Benachrichtigungen"), "notifications.index", order=30)]
