from __future__ import annotations

import sys
import types
from importlib import metadata

import pytest

from mug_core.errors import DuplicateRegistrationError, PluginLoadError
from mug_core.plugins import BUILTIN_PLUGINS, PluginHost, hookimpl


def _module(name: str, **functions: object) -> types.ModuleType:
    module = types.ModuleType(name)
    for key, value in functions.items():
        setattr(module, key, value)
    sys.modules[name] = module
    return module


def _ep(name: str, module: str) -> metadata.EntryPoint:
    return metadata.EntryPoint(name=name, value=module, group="mug")


@hookimpl
def _register_sink(register):  # type: ignore[no-untyped-def]
    register("fake", object)


def test_builtin_plugins_register_core_features() -> None:
    host = PluginHost.load(entry_points=[])
    assert set(BUILTIN_PLUGINS) <= set(host.plugins)
    reg = host.registries
    assert {"static", "start", "end", "completion_code", "survey"} <= set(reg.scene_types)
    assert "server" in reg.transports and "fifo" in reg.matchmakers
    assert {"run", "check", "plugins", "assets"} <= set(reg.commands)
    assert reg.scene_types.plugin_of("survey") == "mug_core.builtin.scenes"


def test_entry_points_load_and_loading_is_idempotent() -> None:
    _module("fake_sink_plugin", mug_register_data_sinks=_register_sink)
    eps = [_ep("fake", "fake_sink_plugin")]
    host = PluginHost.load(entry_points=eps)
    host.load_entry_points(eps)
    host.load_builtin()
    assert host.registries.data_sinks.get("fake") is object
    assert host.registries.data_sinks.plugin_of("fake") == "fake"


def test_block_and_allow_by_name() -> None:
    _module("fake_sink_plugin2", mug_register_data_sinks=_register_sink)
    eps = [_ep("fake2", "fake_sink_plugin2")]
    assert "fake" not in PluginHost.load(entry_points=eps, block=["fake2"]).registries.data_sinks
    assert "fake" not in PluginHost.load(entry_points=eps, allow=[]).registries.data_sinks
    assert "fake" in PluginHost.load(entry_points=eps, allow=["fake2"]).registries.data_sinks


def test_allowing_a_plugin_that_is_not_installed_is_an_error() -> None:
    with pytest.raises(PluginLoadError, match="not installed: nope"):
        PluginHost.load(entry_points=[], allow=["nope"])


def test_a_plugin_that_fails_to_import_stops_loading_with_its_error() -> None:
    with pytest.raises(PluginLoadError) as info:
        PluginHost.load(entry_points=[_ep("broken", "definitely_missing_module_123")])
    assert "broken" in str(info.value) and "ModuleNotFoundError" in str(info.value)


def test_unknown_hook_implementation_is_an_error() -> None:
    @hookimpl
    def mug_register_scenetypes(register):  # type: ignore[no-untyped-def]  # typo on purpose
        pass

    _module("typo_plugin", mug_register_scenetypes=mug_register_scenetypes)
    with pytest.raises(PluginLoadError, match="unknown hook"):
        PluginHost.load(entry_points=[_ep("typo", "typo_plugin")])


def test_two_plugins_registering_one_name_are_named() -> None:
    _module("dup_a", mug_register_data_sinks=_register_sink)
    _module("dup_b", mug_register_data_sinks=_register_sink)
    host = PluginHost.load(entry_points=[_ep("dup_a", "dup_a"), _ep("dup_b", "dup_b")])
    with pytest.raises(DuplicateRegistrationError, match=r"dup_a.*dup_b|dup_b.*dup_a"):
        _ = host.registries
