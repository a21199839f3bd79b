"""The plugin manager: one per app, built-ins first, then entry points."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from types import ModuleType

import pluggy

from core import hookspecs

ENTRY_POINT_GROUP = "kontor.plugins"

#: Core's own hook implementations, registered before any plugin.
BUILTIN_PLUGINS: tuple[str, ...] = (
    "core.builtin",
    "core.sms",
    "core.mail",
)


class PluginError(RuntimeError):
    """A plugin could not be loaded or does not fit the hook specs."""


@dataclass(frozen=True)
class PluginInfo:
    """What ``kontor plugins`` and ``/account/plugins.json`` show."""

    name: str
    version: str
    origin: str
    hooks: tuple[str, ...]


class KontorPluginManager(pluggy.PluginManager):
    """A pluggy manager that remembers where each entry-point plugin came from."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT)
        self.add_hookspecs(hookspecs)
        self.origins: dict[str, tuple[str, str]] = {}


def _register(pm: pluggy.PluginManager, module: ModuleType | object, name: str) -> None:
    try:
        pm.register(module, name=name)
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin {name!r} does not fit the hook specs: {exc}") from None


def build_plugin_manager(
    disabled: frozenset[str] = frozenset(), extra: Sequence[object] = ()
) -> KontorPluginManager:
    """Create a fresh manager with core, then entry-point plugins not in ``disabled``.

    Disabled plugins are skipped before import, so a broken or unwanted
    plugin never runs any code. ``check_pending`` turns a misspelt hook
    implementation into a start error instead of silence.
    """
    pm = KontorPluginManager()
    for dotted in BUILTIN_PLUGINS:
        _register(pm, importlib.import_module(dotted), dotted)
    seen: set[str] = set()
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if ep.name in disabled or ep.name in seen:
            continue
        seen.add(ep.name)
        try:
            module = ep.load()
        except Exception as exc:
            raise PluginError(f"plugin {ep.name!r} failed to import: {exc}") from exc
        _register(pm, module, ep.name)
        dist = ep.dist
        pm.origins[ep.name] = (
            dist.version if dist else "?",
            dist.name if dist else "?",
        )
    for plugin in extra:
        name = getattr(plugin, "__name__", None) or type(plugin).__name__
        _register(pm, plugin, name)  # type: ignore[arg-type]
    check(pm)
    return pm


def check(pm: pluggy.PluginManager) -> None:
    """Fail on hook implementations that match no spec (typos)."""
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"unknown hook implementation: {exc}") from None


def plugin_infos(pm: KontorPluginManager) -> list[PluginInfo]:
    """Describe every registered plugin for operators."""
    origins = pm.origins
    infos = []
    for name, plugin in pm.list_name_plugin():
        hooks = tuple(sorted(h.name for h in pm.get_hookcallers(plugin) or ()))
        if name in origins:
            version, dist = origins[name]
            origin = f"entry point ({dist})"
        else:
            version, origin = "builtin", "core"
        infos.append(PluginInfo(name=name, version=version, origin=origin, hooks=hooks))
    return sorted(infos, key=lambda i: (i.origin != "core", i.name))
