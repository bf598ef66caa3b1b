"""Every Python example in docs/*.md runs (studies and scenes are built and validated, not served).

A block marked ``<!-- not run: reason -->`` on the line before its fence is skipped with that
reason. A block that needs a plugin or an optional package that is not installed is skipped too.
"""

from __future__ import annotations

import ast
import os
import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mug_core import CompletionCodeScene, ExperimentConfig, PluginHost, Scene, Stager
from mug_core.builtin.matchmaking import Candidate, Matches, RoomView
from mug_core.data.sinks import SinkContext

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted((ROOT / "docs").glob("*.md"))
SLIME = ROOT / "examples" / "slime_volleyball"
COUNTDOWN = ROOT / "tests" / "fixtures" / "mug-countdown-scene"
BLOCK = re.compile(
    r"(?:<!--\s*not run:\s*(?P<reason>.*?)\s*-->\n)?```python\n(?P<source>.*?)```", re.S
)


def blocks(doc: Path) -> list[tuple[str | None, str]]:
    """(not-run reason or None, source) of each ```python block of ``doc``, in order."""
    return [(m["reason"], m["source"]) for m in BLOCK.finditer(doc.read_text(encoding="utf-8"))]


CASES = [
    pytest.param(doc, index, id=f"{doc.name}-{index}")
    for doc in DOCS
    for index in range(len(blocks(doc)))
]

# What a block needs beyond its own imports, recognised by what it uses.
NEEDS = {
    "GymScene": ["mug_pyodide"],  # the browser runtime
    ".multiplayer(": ["mug_p2p"],
    "ModelConfig(": ["mug_onnx"],
    "data/my_study": ["mug_storage"],
    '"csv"': ["mug_storage"],
    '"s3"': ["mug_storage", "boto3"],
}


def imported_modules(source: str) -> Iterator[str]:
    """Top-level names of the modules ``source`` imports."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0]


def skip_unless_installed(source: str) -> None:
    local = {path.stem for path in SLIME.glob("*.py")}
    needed = [m for m in imported_modules(source) if m not in local and m != "mug_core"]
    needed += [m for marker, modules in NEEDS.items() if marker in source for m in modules]
    for module in dict.fromkeys(needed):
        pytest.importorskip(module, reason=f"the example needs {module}")


def write_survey_data(root: Path) -> None:
    """``data/my_study/survey/`` as the CSV sink writes it, for the examples that read it back."""
    from mug_storage.csv import CsvSink

    from mug_core.data.records import Record

    sink = CsvSink(SinkContext("my_study", root / "data" / "my_study"))
    answers = {"p123": ["red", "blue"], "p124": None}
    sink.write(
        [
            Record("scene", "my_study", pid, {"favourite_colours": colours}, "survey", seq=n)
            for n, (pid, colours) in enumerate(answers.items(), start=1)
        ]
    )
    sink.close()


def write_sb3_agent(root: Path) -> None:
    """An (untrained) ``ppo_agent.zip``, standing in for the reader's trained agent."""
    from stable_baselines3 import PPO

    PPO("MlpPolicy", "CartPole-v1", device="cpu").save(str(root / "ppo_agent.zip"))


def working_dir(source: str, tmp_path: Path) -> Path:
    """Where a reader would run the example: the repository for paths under examples/, the
    slime volleyball example for its files, otherwise a scratch folder (always for examples
    that write files, such as exporters)."""
    if "data/my_study" in source:
        write_survey_data(tmp_path)
    elif "ppo_agent.zip" in source:
        write_sb3_agent(tmp_path)
    elif "torch.onnx.export" in source:
        pass
    elif "examples/" in source:
        return ROOT
    elif "env_file.py" in source or "policy.onnx" in source or "slime_env" in source:
        return SLIME
    return tmp_path


def validate(config: ExperimentConfig, tmp_path: Path) -> None:
    if config.data_dir == Path("data"):
        config.data(data_dir=tmp_path / "data")
    host = PluginHost.load(
        allow=config.plugin_allow, block=config.plugin_block, extra_plugins=config.extra_plugins
    )
    config.validate(host)
    # Sink options are checked when the server builds its sinks (no data is written here).
    for name in config.sinks:
        options = dict(config.sink_options.get(name, {}))
        context = SinkContext(config.experiment_id or "", tmp_path / "sinks" / name, options)
        host.registries.data_sinks.get(name)(context).close()


def check_namespace(namespace: dict[str, Any], tmp_path: Path) -> None:
    """Validate the study the example builds, or a study made of the scenes it builds, and
    draw a frame with each env class it defines."""
    values = list(namespace.values())
    configs = [v for v in values if isinstance(v, ExperimentConfig)]
    scenes = [v for v in values if isinstance(v, Scene)]
    for config in configs:
        if config.stager is None:
            config.experiment(stager=Stager(scenes=[*scenes, end_scene()]))
        if config.experiment_id is None:
            config.experiment(experiment_id="docs_example")
        validate(config, tmp_path)
    if scenes and not configs:
        stager = Stager(scenes=[*scenes, end_scene()])
        validate(
            ExperimentConfig().experiment(stager=stager, experiment_id="docs_example"), tmp_path
        )
    for name, value in namespace.items():
        if isinstance(value, type) and value.__module__ == "docs_example" and name in DRAW:
            packet = DRAW[name](value())
            assert packet["objects"], f"{name}.render() drew nothing"
    if any(name.startswith("mug_") and callable(v) for name, v in namespace.items()):
        check_plugin(namespace)


def check_plugin(namespace: dict[str, Any]) -> None:
    """Load the example's hooks as a plugin beside the built-in ones (a misnamed hook fails),
    and resolve everything it registers."""
    plugin = types.SimpleNamespace(**namespace)
    host = PluginHost.load(entry_points=[], extra_plugins=[("docs_example", plugin)])
    registered = [
        (registry, name)
        for registry in host.registries.all()
        for name in registry
        if registry.plugin_of(name) == "docs_example"
    ]
    assert registered, "the plugin registers nothing"
    for registry, name in registered:
        value = registry.get(name)
        if registry is host.registries.matchmakers:
            waiting = [Candidate(f"p{i}", arrived_at=float(i)) for i in range(5)]
            result = value(2).match(waiting, RoomView("game", group_size=2, now=10.0))
            groups = result.groups if isinstance(result, Matches) else result
            assert [list(group) for group in groups] == [["p0", "p1"], ["p2", "p3"]]


def end_scene() -> Scene:
    return CompletionCodeScene().scene(scene_id="docs_example_end")


DRAW = {
    "Chase": lambda env: (env.reset(seed=0), env.render())[1],
    "Tag": lambda env: env.render("chaser"),
}


@pytest.mark.parametrize(("doc", "index"), CASES)
def test_docs_example_runs(doc: Path, index: int, tmp_path: Path) -> None:
    reason, source = blocks(doc)[index]
    if reason is not None:
        pytest.skip(f"not run: {reason}")
    skip_unless_installed(source)
    cwd, path = os.getcwd(), list(sys.path)
    folder = working_dir(source, tmp_path)
    os.chdir(folder)
    sys.path.insert(0, str(folder))
    if "mug_countdown_scene" in source:  # the plugin the example shows, as the docs point to it
        sys.path.append(str(COUNTDOWN))
    try:
        namespace: dict[str, Any] = {
            "__name__": "docs_example",
            "__file__": str(folder / "docs_example.py"),
        }
        exec(compile(source, f"{doc.name} block {index}", "exec"), namespace)
        check_namespace(namespace, tmp_path)
    finally:
        os.chdir(cwd)
        sys.path[:] = path
