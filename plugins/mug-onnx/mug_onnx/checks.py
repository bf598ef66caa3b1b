"""Start-up checks of a game scene's ``ModelConfig`` policies (``mug_validate_config``).

For each agent played by a ``ModelConfig``, in order (a failed step skips what depends on it):

1. the file exists, and onnxruntime loads it;
2. ``obs_input``, ``state_inputs`` and ``fixed_inputs`` are inputs of the graph and
   ``logit_output`` and ``state_outputs`` are outputs (the message lists the real names), no
   other input is left unfed, the observation input takes floats, and ``state_shape`` fits
   the state inputs;
3. the env is built in CPython (the scene's env code, with its ``python_files`` importable
   from a temporary folder) and the agent's observation space, flattened, fits the
   observation input, and the action space is ``Discrete``; an env that cannot be built here
   (a browser-only import, for instance) skips this step with a logged warning;
4. one inference on a zero observation runs, and gives one logit per action.
"""

from __future__ import annotations

import contextlib
import logging
import math
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from mug_core.configurations.configuration_constants import ModelConfig
from mug_onnx.policy import ORT_DTYPES, create_session, feed_shape
from mug_onnx.preprocess import flat_size

log = logging.getLogger("mug_onnx")

FLOAT_TYPES = ("tensor(float)",)


def check_scene(scene: Any) -> list[str]:
    """Problems with every ``ModelConfig`` in ``scene.policy_mapping``, each saying what to
    change. Builds the scene's env at most once."""
    problems: list[str] = []
    env_box: list[Any] = []
    for agent, policy in scene.policy_mapping.items():
        if isinstance(policy, ModelConfig):
            problems.extend(check_policy(scene, agent, policy, env_box))
    for env in env_box:
        with contextlib.suppress(Exception):
            env.close()
    return problems


def _shape_text(shape: Any) -> str:
    return "[" + ", ".join(str(d) if d is not None else "?" for d in (shape or ())) + "]"


def check_policy(scene: Any, agent: Any, config: ModelConfig, env_box: list[Any]) -> list[str]:
    """Problems with the ``ModelConfig`` of ``agent`` (see the module docstring)."""
    where = f"GymScene {scene.scene_id!r}, agent {agent!r}: ModelConfig"
    path = Path(config.onnx_path)
    if not path.is_file():
        return [
            f"{where}: no file at onnx_path={config.onnx_path!r} (resolved from the current "
            f"folder {Path.cwd()}): give the path of the exported .onnx file"
        ]
    try:
        session = create_session(path)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return [
            f"{where}: {config.onnx_path} does not load as an ONNX model ({first}); "
            "export the model again (see docs/onnx.md)"
        ]
    inputs = {i.name: i for i in session.get_inputs()}
    outputs = {o.name: o for o in session.get_outputs()}
    problems = _check_names(where, config, inputs, outputs)
    if problems:
        return problems

    obs_arg = inputs[config.obs_input]
    if obs_arg.type not in FLOAT_TYPES:
        return [
            f"{where}: obs_input {config.obs_input!r} takes {obs_arg.type}, but observations are "
            "fed as float32 (tensor(float)): export the model with a float32 observation input"
        ]
    env = _env(scene, env_box)
    count = None
    n_actions = None
    if env is not None:
        count, n_actions, space_problems = _space_facts(where, env, agent)
        problems.extend(space_problems)
    declared = obs_arg.shape
    if count is None:
        count = _declared_count(declared)
    if count is None:  # neither the env nor the model says how many values: cannot run it
        return problems
    try:
        obs_shape = feed_shape(declared, count)
    except ValueError:
        problems.append(
            f"{where}: obs_input {config.obs_input!r} takes shape {_shape_text(declared)}, "
            f"but agent {agent!r}'s observations flatten to {count} float32 values (see "
            "docs/onnx.md, 'Flattening'): export the model for this observation space, or "
            "play this agent with a model made for it"
        )
        return problems
    if problems:
        return problems
    return _smoke_test(where, config, session, inputs, obs_shape, n_actions)


def _check_names(
    where: str, config: ModelConfig, inputs: dict[str, Any], outputs: dict[str, Any]
) -> list[str]:
    problems = []
    input_names, output_names = list(inputs), list(outputs)
    if config.obs_input not in inputs:
        problems.append(
            f"{where}: obs_input {config.obs_input!r} is not an input of {config.onnx_path}; its "
            f"inputs are {input_names}: set obs_input= to the observation input"
        )
    if config.logit_output not in outputs:
        problems.append(
            f"{where}: logit_output {config.logit_output!r} is not an output of "
            f"{config.onnx_path}; its outputs are {output_names}: set logit_output= to the "
            "output with one logit per action"
        )
    for kind, names, known in (
        ("state_inputs", config.state_inputs, inputs),
        ("state_outputs", config.state_outputs, outputs),
        ("fixed_inputs", list(config.fixed_inputs), inputs),
    ):
        pool = input_names if known is inputs else output_names
        for name in names:
            if name not in known:
                side = "input" if known is inputs else "output"
                problems.append(
                    f"{where}: {kind} names {name!r}, which is not an {side} of "
                    f"{config.onnx_path}; its {side}s are {pool}"
                )
    fed = {config.obs_input, *config.state_inputs, *config.fixed_inputs}
    for name, arg in inputs.items():
        if name not in fed and not problems:  # a misnamed input is the likelier mistake
            problems.append(
                f"{where}: {config.onnx_path} also takes input {name!r} ({arg.type} "
                f"{_shape_text(arg.shape)}), which nothing feeds: give it in fixed_inputs= (a "
                "constant) or, with its output, in state_inputs=/state_outputs= (recurrent state)"
            )
    for name in config.state_inputs:
        arg = inputs.get(name)
        if arg is None or config.state_shape is None:
            continue
        declared = list(arg.shape or ())
        fits = len(declared) == len(config.state_shape) and all(
            not isinstance(d, int) or d == s
            for d, s in zip(declared, config.state_shape, strict=True)
        )
        if not fits:
            problems.append(
                f"{where}: state_shape={list(config.state_shape)} does not fit state input "
                f"{name!r}, which takes {_shape_text(arg.shape)}: set state_shape= to that shape "
                "(batch dimension included)"
            )
        if arg.type not in ORT_DTYPES:
            problems.append(
                f"{where}: state input {name!r} has type {arg.type}, which MUG cannot feed"
            )
    for name, value in config.fixed_inputs.items():
        arg = inputs.get(name)
        if arg is None:
            continue
        if arg.type not in ORT_DTYPES:
            problems.append(
                f"{where}: fixed input {name!r} has type {arg.type}, which MUG cannot feed"
            )
            continue
        try:
            array = np.asarray(value, dtype=ORT_DTYPES[arg.type])
        except (TypeError, ValueError) as exc:
            problems.append(f"{where}: fixed_inputs[{name!r}] is not a {arg.type} array: {exc}")
            continue
        declared = list(arg.shape or ())
        if declared and (
            len(declared) != array.ndim
            or any(
                isinstance(d, int) and d != s for d, s in zip(declared, array.shape, strict=True)
            )
        ):
            problems.append(
                f"{where}: fixed_inputs[{name!r}] has shape {list(array.shape)}, but input "
                f"{name!r} takes {_shape_text(arg.shape)}: give the value in that shape"
            )
    return problems


def _declared_count(declared: Any) -> int | None:
    """Values per observation the input declares (batch excluded), when they are all static."""
    dims = list(declared or ())
    if len(dims) >= 2:
        dims = dims[1:]
    if not dims or not all(isinstance(d, int) and d > 0 for d in dims):
        return None
    return math.prod(dims)


def _space_facts(where: str, env: Any, agent: Any) -> tuple[int | None, int | None, list[str]]:
    """(flattened observation size, action count, problems) for ``agent`` in ``env``."""
    problems: list[str] = []
    try:
        obs_space = _space(env, "observation_space", agent)
        act_space = _space(env, "action_space", agent)
    except Exception as exc:
        log.warning("%s: skipped the observation-shape check: no spaces for agent (%s)", where, exc)
        return None, None, []
    count = flat_size(obs_space)
    if count is None:
        log.warning(
            "%s: skipped the shape check: cannot size observation space %r", where, obs_space
        )
    n = getattr(act_space, "n", None)
    if n is None or getattr(act_space, "shape", ()) not in ((), None):
        problems.append(
            f"{where}: agent {agent!r} has action space {act_space!r}; ONNX policies choose "
            "among Discrete actions (one logit each): use a Discrete action space"
        )
        n = None
    return count, None if n is None else int(n), problems


def _space(env: Any, attribute: str, agent: Any) -> Any:
    space = getattr(env, attribute)
    if callable(space) and not hasattr(space, "sample"):  # PettingZoo: a method per agent
        return space(agent)
    return space


def _smoke_test(
    where: str,
    config: ModelConfig,
    session: Any,
    inputs: dict[str, Any],
    obs_shape: tuple[int, ...],
    n_actions: int | None,
) -> list[str]:
    """Run the model once on zeros, as the policy would, and count the logits."""
    feeds: dict[str, np.ndarray] = {config.obs_input: np.zeros(obs_shape, dtype=np.float32)}
    for name in config.state_inputs:
        feeds[name] = np.zeros(config.state_shape or (), dtype=ORT_DTYPES[inputs[name].type])
    for name, value in config.fixed_inputs.items():
        feeds[name] = np.asarray(value, dtype=ORT_DTYPES[inputs[name].type])
    try:
        outputs = session.run([config.logit_output, *config.state_outputs], feeds)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return [
            f"{where}: {config.onnx_path} fails on a zero observation of shape {list(obs_shape)} "
            f"({first}): check obs_input, state_shape and fixed_inputs against the model"
        ]
    problems = []
    size = int(np.asarray(outputs[0]).size)
    if n_actions is not None and size != n_actions:
        problems.append(
            f"{where}: logit_output {config.logit_output!r} gives {size} values per observation, "
            f"but the agent has Discrete({n_actions}) actions: export the model with one logit "
            "per action"
        )
    for name, state_in, value in zip(
        config.state_outputs, config.state_inputs, outputs[1:], strict=True
    ):
        shape, expected = list(np.asarray(value).shape), list(config.state_shape or ())
        if shape != expected:
            problems.append(
                f"{where}: state output {name!r} has shape {shape}, but it feeds state input "
                f"{state_in!r} of state_shape {expected}: pair each state output with the input "
                "of the same shape"
            )
    return problems


def _env(scene: Any, env_box: list[Any]) -> Any:
    """The scene's env built in CPython (cached in ``env_box``), or None with a warning."""
    if env_box:
        return env_box[0]
    if scene.env_code is None:
        return None
    try:
        env = build_env(scene.env_code, scene.env_filename, scene.python_files)
    except ImportError as exc:
        log.warning(
            "GymScene %r: skipped the ONNX observation-shape checks: the env cannot be built "
            "in CPython (%s); it may need a browser-only package",
            scene.scene_id,
            exc,
        )
        return None
    except Exception as exc:
        log.warning(
            "GymScene %r: skipped the ONNX observation-shape checks: building the env in "
            "CPython failed: %s: %s",
            scene.scene_id,
            type(exc).__name__,
            exc,
        )
        return None
    env_box.append(env)
    return env


def build_env(env_code: str, env_filename: str, python_files: dict[str, str]) -> Any:
    """Execute the env code as the runtime does (its ``python_files`` importable) and return
    its global ``env``. The modules it imported from those files are forgotten afterwards, so
    another scene's files of the same name are not shadowed."""
    with tempfile.TemporaryDirectory(prefix="mug-onnx-env-") as folder:
        for name, source in python_files.items():
            (Path(folder) / name).write_text(source, encoding="utf-8")
        env_path = Path(folder) / env_filename
        env_path.write_text(env_code, encoding="utf-8")
        with _importable(folder):
            namespace: dict[str, Any] = {"__name__": "__mug_env__", "__file__": str(env_path)}
            exec(compile(env_code, str(env_path), "exec"), namespace)
    if "env" not in namespace:
        raise RuntimeError(f"{env_filename} defines no global 'env'")
    return namespace["env"]


@contextlib.contextmanager
def _importable(folder: str) -> Iterator[None]:
    before = set(sys.modules)
    sys.path.insert(0, folder)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(folder)
        for name in set(sys.modules) - before:
            file = getattr(sys.modules[name], "__file__", None) or ""
            if file.startswith(folder):
                del sys.modules[name]


__all__ = ["build_env", "check_policy", "check_scene"]
