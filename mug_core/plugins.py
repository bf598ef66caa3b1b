"""Plugin loading: one name (``mug``) for the hook markers, the manager and the entry points.

Plugins are loaded by an explicit call, never at import::

    host = PluginHost.load(allow=None, block=())

Loading is idempotent per host; a plugin that fails to import stops start-up with its error,
and a hook implementation that names no known hook is an error too.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterable, Sequence
from importlib import metadata
from typing import Any, TypeVar

import attrs
import pluggy

from mug_core import hookspecs
from mug_core.errors import PluginLoadError
from mug_core.registry import Registries, Registry

PROJECT = "mug"
"""The plugin project name: hook markers, plugin manager and entry-point group all use it."""

hookimpl = pluggy.HookimplMarker(PROJECT)
"""Decorator that marks a function in a plugin module as a hook implementation."""

BUILTIN_PLUGINS: tuple[str, ...] = (
    "mug_core.builtin.scenes",
    "mug_core.builtin.transport",
    "mug_core.builtin.policies",
    "mug_core.builtin.matchmaking",
    "mug_core.builtin.commands",
    "mug_core.builtin.client",
)
"""Modules that register the core's own features through the same hooks as any plugin."""

T = TypeVar("T")


@attrs.frozen
class PluginInfo:
    """What ``mug plugins`` shows about one loaded plugin."""

    name: str
    distribution: str | None
    version: str | None
    builtin: bool


def _entry_point_distribution(ep: metadata.EntryPoint) -> tuple[str | None, str | None]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return None, None
    return dist.metadata["Name"], dist.version


def installed_entry_points() -> list[metadata.EntryPoint]:
    """Entry points of installed distributions in the ``mug`` group, sorted by name."""
    return sorted(metadata.entry_points(group=PROJECT), key=lambda ep: ep.name)


class PluginHost:
    """A plugin manager with the core's built-in plugins and the installed ones loaded.

    Use :meth:`load` to create one; :attr:`registries` is filled lazily on first access, by
    calling every registration hook once.
    """

    def __init__(self) -> None:
        self.manager = pluggy.PluginManager(PROJECT)
        self.manager.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self._registries: Registries | None = None

    @classmethod
    def load(
        cls,
        *,
        allow: Iterable[str] | None = None,
        block: Iterable[str] = (),
        entry_points: Sequence[metadata.EntryPoint] | None = None,
        extra_plugins: Iterable[tuple[str, object]] = (),
    ) -> PluginHost:
        """Build a host with the built-in plugins and the installed (or given) entry points.

        ``allow`` (when not None) keeps only the named installed plugins; ``block`` drops the
        named ones. Built-in plugins are always loaded. ``extra_plugins`` are ``(name, module)``
        pairs registered directly, which is how tests and scripts add a plugin in-process.
        Raises :class:`PluginLoadError` when a plugin fails to import or names an unknown hook.
        """
        host = cls()
        host.load_builtin()
        host.load_entry_points(entry_points, allow=allow, block=block)
        for name, plugin in extra_plugins:
            host.register(plugin, name=name)
        try:
            host.manager.check_pending()
        except pluggy.PluginValidationError as exc:
            raise PluginLoadError(f"a plugin does not match the hook contract: {exc}") from exc
        return host

    def load_builtin(self) -> None:
        """Register the core's own plugins (idempotent)."""
        for module_name in BUILTIN_PLUGINS:
            if self.manager.has_plugin(module_name):
                continue
            module = importlib.import_module(module_name)
            self.manager.register(module, name=module_name)
            self.plugins[module_name] = PluginInfo(module_name, "mug-core", _core_version(), True)

    def load_entry_points(
        self,
        entry_points: Sequence[metadata.EntryPoint] | None = None,
        *,
        allow: Iterable[str] | None = None,
        block: Iterable[str] = (),
    ) -> None:
        """Import and register plugins from entry points (idempotent by entry-point name)."""
        eps = installed_entry_points() if entry_points is None else list(entry_points)
        allowed = None if allow is None else set(allow)
        blocked = set(block)
        names = {ep.name for ep in eps}
        unknown = (set(allowed or ()) | blocked) - names
        if unknown:
            known = ", ".join(sorted(names)) or "none installed"
            raise PluginLoadError(
                f"plugins allowed or blocked by name are not installed: "
                f"{', '.join(sorted(unknown))} (installed: {known})"
            )
        for ep in eps:
            if ep.name in blocked or (allowed is not None and ep.name not in allowed):
                continue
            if self.manager.has_plugin(ep.name):
                continue
            dist_name, version = _entry_point_distribution(ep)
            try:
                plugin = ep.load()
            except Exception as exc:
                source = f" from {dist_name}" if dist_name else ""
                raise PluginLoadError(
                    f"plugin {ep.name!r}{source} failed to import ({ep.value}): "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            try:
                self.manager.register(plugin, name=ep.name)
            except pluggy.PluginValidationError as exc:
                raise PluginLoadError(
                    f"plugin {ep.name!r} does not match the hooks: {exc}"
                ) from exc
            self.plugins[ep.name] = PluginInfo(ep.name, dist_name, version, False)

    def register(self, plugin: object, *, name: str) -> None:
        """Register a plugin object directly (idempotent by name)."""
        if self.manager.has_plugin(name):
            return
        self.manager.register(plugin, name=name)
        self.plugins[name] = PluginInfo(name, None, None, False)
        self._registries = None

    @property
    def hook(self) -> Any:
        """The pluggy hook relay, for lifecycle hooks (``host.hook.mug_server_start(...)``)."""
        return self.manager.hook

    @property
    def registries(self) -> Registries:
        """Every typed registry, filled by the registration hooks on first access."""
        if self._registries is None:
            self._registries = self._collect()
        return self._registries

    def _collect(self) -> Registries:
        registries = Registries()
        for hook_name, registry in registries.by_hook().items():
            self._call_each(hook_name, registry)
        return registries

    def _call_each(self, hook_name: str, registry: Registry[Any]) -> None:
        # Each implementation gets a view of the registry that knows its plugin's name, so a
        # duplicate can name both plugins involved.
        caller = getattr(self.manager.hook, hook_name)
        for impl in reversed(caller.get_hookimpls()):
            impl.function(registry.for_plugin(impl.plugin_name))

    def registered_by(self, plugin_name: str) -> dict[str, list[str]]:
        """What one plugin registered, by registry kind (for ``mug plugins``)."""
        out: dict[str, list[str]] = {}
        for registry in self.registries.all():
            names = [n for n, e in registry.entries.items() if e.plugin == plugin_name]
            if names:
                out[registry.kind] = names
        return out


def _core_version() -> str | None:
    try:
        return metadata.version("mug-core")
    except metadata.PackageNotFoundError:
        return None


async def await_me_maybe(value: T | Any) -> T:
    """Await ``value`` if it is awaitable; hooks may return plain values or coroutines."""
    if inspect.isawaitable(value):
        value = await value
    return value


async def call_lifecycle(results: list[Any]) -> None:
    """Await every awaitable result of a lifecycle hook call, in order."""
    for result in results:
        await await_me_maybe(result)


def plugin_list(host: PluginHost) -> list[tuple[PluginInfo, dict[str, list[str]]]]:
    """Loaded plugins with what each registered, builtin first."""
    infos = sorted(host.plugins.values(), key=lambda p: (not p.builtin, p.name))
    return [(info, host.registered_by(info.name)) for info in infos]


__all__: list[str] = [
    "BUILTIN_PLUGINS",
    "PROJECT",
    "PluginHost",
    "PluginInfo",
    "await_me_maybe",
    "call_lifecycle",
    "hookimpl",
    "installed_entry_points",
    "plugin_list",
]
