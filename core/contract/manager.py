"""The plugin manager: one per app, built-ins first, then entry points."""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any

import pluggy

from core.contract import hookspecs

ENTRY_POINT_GROUP = "kontor.plugins"

#: Core's own hook implementations, registered before any plugin.
BUILTIN_PLUGINS: tuple[str, ...] = (
    "core.contract.builtin",
    "core.delivery.sms_gateways",
    "core.delivery.messages",
)


class PluginError(RuntimeError):
    """A plugin could not be loaded or does not fit the hook specs."""


@dataclass(frozen=True)
class PluginInfo:
    """What ``kontor plugins`` shows."""

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


def extra_plugins(plugins: Sequence[object] | Mapping[str, object]) -> list[tuple[str, object]]:
    """Name each extra plugin: by its key in a mapping, else by its ``__name__``."""
    if isinstance(plugins, Mapping):
        return list(plugins.items())
    return [(getattr(p, "__name__", None) or type(p).__name__, p) for p in plugins]


def build_plugin_manager(
    disabled: frozenset[str] = frozenset(),
    extra: Sequence[object] | Mapping[str, object] = (),
) -> KontorPluginManager:
    """Create a fresh manager with core, then entry-point plugins not in ``disabled``.

    Disabled plugins are skipped before import, so a broken or unwanted
    plugin never runs any code. ``check_pending`` turns a misspelt hook
    implementation into a start error instead of silence. An extra plugin
    that is installed already (its entry point loaded it) is not added twice.
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
    for name, plugin in extra_plugins(extra):
        if not pm.is_registered(plugin):
            _register(pm, plugin, name)
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


def owner(plugin_name: str) -> str:
    """The plugin a registered name speaks for: core's built-in modules are all "core"."""
    return "core" if plugin_name in BUILTIN_PLUGINS else plugin_name


def declared(pm: pluggy.PluginManager, hook: str, **kwargs: Any) -> list[tuple[str, Any]]:
    """What each implementation of a declaring hook returned, with its plugin's name.

    Like calling the hook, but every item keeps the name of the plugin that
    declared it, so a clash or a wrong endpoint can name who is at fault.
    """
    items: list[tuple[str, Any]] = []
    for impl in getattr(pm.hook, hook).get_hookimpls():
        result = impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
        if result is None:
            continue
        many = isinstance(result, Iterable) and not isinstance(result, (str, Mapping))
        items += [(owner(impl.plugin_name), item) for item in (result if many else [result])]
    return items


def check_unique(kind: str, claims: Iterable[tuple[str, str]]) -> None:
    """Fail when two plugins (or one plugin twice) claim the same ``kind`` key."""
    seen: dict[str, str] = {}
    for plugin, key in claims:
        if key in seen:
            raise PluginError(f"{kind} {key!r} is claimed by both {seen[key]!r} and {plugin!r}")
        seen.setdefault(key, plugin)


def check_endpoints(
    kind: str,
    claims: Iterable[tuple[str, str]],
    endpoints: set[str],
    missing: str = "which no route has",
) -> None:
    """Fail when a declaration points at an endpoint that is not there (a typo)."""
    for plugin, endpoint in claims:
        if endpoint not in endpoints:
            raise PluginError(
                f"plugin {plugin!r} declares {kind} for endpoint {endpoint!r}, {missing}"
            )


def check_schema(plugin: str, name: str, tables: Iterable[str]) -> None:
    """A plugin's schema carries its name, and each table its ``<name>_`` prefix."""
    if name != plugin:
        raise PluginError(f"plugin {plugin!r} returns a schema named {name!r}; name it {plugin!r}")
    for table in tables:
        if not table.startswith(f"{plugin}_"):
            raise PluginError(
                f"plugin {plugin!r} owns table {table!r}, which lacks the prefix {plugin + '_'!r}"
            )
