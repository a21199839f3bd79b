"""The access log as sentences: "Susi Support hat die Firmendaten geändert."

Entries keep what happened in machine form (an action, and for writes the
endpoint); this module says it in German for the customer's Support page.
Older write entries carry "POST /path" and are read through the URL map.
"""

from __future__ import annotations

from flask import current_app
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from plugins.remote_support.models import AccessLog


def _write_phrases() -> dict[str, str]:
    """What a write to an endpoint did, completing "<Name> hat …"."""
    return {
        "core.profile": _("die Nutzerdaten geändert"),
        "core.company": _("die Firmendaten geändert"),
        "core.users": _("einen Benutzer eingeladen"),
        "core.remove_user": _("einen Benutzer entfernt"),
        "notifications.save": _("die Benachrichtigungseinstellungen geändert"),
        "notifications.send_test": _("eine Testbenachrichtigung gesendet"),
        "mail_transport.save": _("die Einstellungen zum E-Mail-Versand geändert"),
        "mail_transport.connect": _("das eigene E-Mail-Konto verbunden"),
        "mail_transport.test_mail": _("eine Testmail gesendet"),
        "subscriptions.billing": _("die Abrechnungsinformationen geändert"),
        "subscriptions.confirm_change": _("den Tarif gewechselt"),
    }


def _endpoint(detail: str) -> str:
    """The endpoint of a write entry: stored as such, or as "POST /path"."""
    method, _sep, path = detail.partition(" ")
    if not path.startswith("/"):
        return detail
    try:
        endpoint, _args = current_app.url_map.bind("localhost").match(path, method=method)
    except HTTPException:
        return ""
    return endpoint


def _section_label(endpoint: str) -> str | None:
    """The settings section the endpoint belongs to, by blueprint."""
    blueprint = endpoint.rpartition(".")[0]
    for section in current_app.extensions["kontor"].sections:
        if section.endpoint.rpartition(".")[0] == blueprint and blueprint != "core":
            return str(section.label)
    return None


def _write_sentence(actor: str, detail: str) -> str:
    endpoint = _endpoint(detail)
    phrase = _write_phrases().get(endpoint)
    if phrase:
        return _("%(actor)s hat %(what)s.", actor=actor, what=phrase)
    section = _section_label(endpoint)
    if section:
        return _(
            "%(actor)s hat im Bereich „%(section)s“ etwas geändert.", actor=actor, section=section
        )
    return _("%(actor)s hat eine Änderung vorgenommen.", actor=actor)


def sentence(entry: AccessLog) -> str:
    """One access log entry as a German sentence."""
    actor, detail = entry.actor, entry.detail or ""
    if entry.action == "write":
        return _write_sentence(actor, detail)
    if entry.action == "session_start":
        return _("%(actor)s hat sich angemeldet (Grund: %(reason)s).", actor=actor, reason=detail)
    if entry.action == "session_end":
        return _("Die Sitzung von %(actor)s wurde beendet (%(why)s).", actor=actor, why=detail)
    if entry.action == "denied":
        return _("%(actor)s wurde der Zugriff verweigert (%(why)s).", actor=actor, why=detail)
    if entry.action == "grant":
        return _(
            "%(actor)s hat die Genehmigung zur Fernwartung erteilt (%(what)s).",
            actor=actor,
            what=detail,
        )
    if entry.action == "revoke":
        return _("%(actor)s hat die Genehmigung widerrufen.", actor=actor)
    if entry.action == "expire":
        return _("Die Genehmigung ist abgelaufen.")
    return _("%(actor)s: %(action)s %(detail)s", actor=actor, action=entry.action, detail=detail)
