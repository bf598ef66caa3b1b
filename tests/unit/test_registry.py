from __future__ import annotations

import pytest

from mug_core.errors import DuplicateRegistrationError, UnknownNameError
from mug_core.registry import Registries, Registry


def test_register_and_get_objects_and_lazy_references() -> None:
    registry: Registry[object] = Registry("data sink")
    registry.for_plugin("a")("direct", 42)
    registry.for_plugin("b")("lazy", "json:dumps")
    import json

    assert registry.get("direct") == 42
    assert registry.get("lazy") is json.dumps
    assert registry.plugin_of("lazy") == "b"
    assert registry.names() == ["direct", "lazy"]


def test_duplicate_names_name_both_plugins() -> None:
    registry: Registry[object] = Registry("scene type")
    registry.for_plugin("first_plugin")("survey", 1)
    with pytest.raises(DuplicateRegistrationError) as info:
        registry.for_plugin("second_plugin")("survey", 2)
    message = str(info.value)
    assert "first_plugin" in message and "second_plugin" in message and "survey" in message


def test_unknown_name_lists_what_exists() -> None:
    registry: Registry[object] = Registry("runtime")
    registry("browser", 1)
    with pytest.raises(UnknownNameError, match="available: browser"):
        registry.get("server")


def test_broken_lazy_reference_names_the_plugin() -> None:
    registry: Registry[object] = Registry("data sink")
    registry.for_plugin("broken_plugin")("s3", "no_such_module_xyz:Sink")
    with pytest.raises(UnknownNameError, match="broken_plugin"):
        registry.get("s3")


def test_bad_names_are_refused() -> None:
    with pytest.raises(ValueError):
        Registry("matchmaker")("", 1)


def test_registries_cover_every_registration_hook() -> None:
    from mug_core import hookspecs

    hooks = {n for n in dir(hookspecs) if n.startswith("mug_register_")}
    assert set(Registries().by_hook()) == hooks
