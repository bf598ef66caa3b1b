"""Typed registries that the registration hooks fill.

A registry maps names to entries. An entry is an object or a lazy ``"module:attr"`` reference,
resolved on first use, so registering a heavy feature costs nothing until a study selects it.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any, Generic, TypeVar

import attrs

from mug_core.errors import DuplicateRegistrationError, UnknownNameError

T = TypeVar("T")


@attrs.define
class Entry(Generic[T]):
    """One registered name: its value (or lazy reference) and the plugin that registered it."""

    name: str
    value: T | str
    plugin: str
    _resolved: T | None = attrs.field(default=None, repr=False)

    def resolve(self) -> T:
        """The registered object, importing a lazy ``"module:attr"`` reference on first use."""
        if self._resolved is not None:
            return self._resolved
        value = self.value
        if isinstance(value, str) and ":" in value:
            module_name, _, attr = value.partition(":")
            try:
                obj: Any = importlib.import_module(module_name)
                for part in attr.split("."):
                    obj = getattr(obj, part)
            except (ImportError, AttributeError) as exc:
                raise UnknownNameError(
                    f"{self.name!r} (registered by plugin {self.plugin!r}) points at {value!r}, "
                    f"which cannot be loaded: {exc}"
                ) from exc
            self._resolved = obj
        else:
            self._resolved = value  # type: ignore[assignment]
        return self._resolved  # type: ignore[return-value]


class Registry(Generic[T]):
    """Named entries of one kind (``"scene type"``, ``"data sink"``, ...).

    Call it like a function to register: ``register("csv", "mug_storage.csv:CsvSink")``.
    """

    def __init__(self, kind: str, *, plugin: str = "<direct>", _entries: dict | None = None):
        self.kind = kind
        self.plugin = plugin
        self.entries: dict[str, Entry[T]] = {} if _entries is None else _entries

    def for_plugin(self, plugin: str) -> Registry[T]:
        """A view sharing these entries that records ``plugin`` as the registrant."""
        return Registry(self.kind, plugin=plugin, _entries=self.entries)

    def __call__(self, name: str, value: T | str) -> None:
        self.register(name, value)

    def register(self, name: str, value: T | str) -> None:
        """Add ``name``; raises :class:`DuplicateRegistrationError` if it is taken."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"{self.kind} names must be non-empty strings, got {name!r}")
        existing = self.entries.get(name)
        if existing is not None:
            raise DuplicateRegistrationError(
                f"{self.kind} {name!r} is registered by both plugin {existing.plugin!r} and "
                f"plugin {self.plugin!r}; uninstall or block one of them"
            )
        self.entries[name] = Entry(name, value, self.plugin)

    def get(self, name: str) -> T:
        """The entry called ``name``, resolved; raises :class:`UnknownNameError` naming options."""
        entry = self.entries.get(name)
        if entry is None:
            known = ", ".join(sorted(self.entries)) or "none"
            raise UnknownNameError(f"no {self.kind} called {name!r} (available: {known})")
        return entry.resolve()

    def plugin_of(self, name: str) -> str:
        """Which plugin registered ``name``."""
        return self.entries[name].plugin

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self.entries)


@attrs.define
class Registries:
    """All registries of one plugin host, one per registration hook."""

    scene_types: Registry[Any] = attrs.field(factory=lambda: Registry("scene type"))
    runtimes: Registry[Any] = attrs.field(factory=lambda: Registry("runtime"))
    policy_backends: Registry[Any] = attrs.field(factory=lambda: Registry("policy backend"))
    renderers: Registry[Any] = attrs.field(factory=lambda: Registry("renderer"))
    transports: Registry[Any] = attrs.field(factory=lambda: Registry("transport"))
    data_sinks: Registry[Any] = attrs.field(factory=lambda: Registry("data sink"))
    matchmakers: Registry[Any] = attrs.field(factory=lambda: Registry("matchmaker"))
    client_assets: Registry[Any] = attrs.field(factory=lambda: Registry("client asset bundle"))
    commands: Registry[Any] = attrs.field(factory=lambda: Registry("command"))

    def by_hook(self) -> dict[str, Registry[Any]]:
        """Each registration hook's name with the registry it fills."""
        return {f"mug_register_{field.name}": getattr(self, field.name) for field in _FIELDS}

    def all(self) -> list[Registry[Any]]:
        """Every registry."""
        return [getattr(self, field.name) for field in _FIELDS]


_FIELDS = attrs.fields(Registries)
