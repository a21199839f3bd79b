"""Datenexport: a section that leads to core's data export under Nutzerdaten.

The export itself (a ZIP with every plugin's ``kontor_account_export`` part,
built in the worker, one-time link by mail) is core's; this third-party
plugin only shows how a package adds a section, a card and a page through its
entry point.
"""

from __future__ import annotations

from collections.abc import Sequence

from flask import Blueprint
from flask_babel import lazy_gettext as _l

from core import Card, Section, hookimpl
from kontor_datenexport.views import bp


@hookimpl
def kontor_blueprints() -> Sequence[Blueprint]:
    return [bp]


@hookimpl
def kontor_settings_sections() -> Sequence[Section]:
    return [Section("datenexport", _l("Datenexport"), "datenexport.index", order=90, icon="export")]


@hookimpl
def kontor_overview_cards() -> Sequence[Card]:
    return [Card("datenexport", "Datenexport", ["Alle Daten als ZIP"], "datenexport.index", 90)]
