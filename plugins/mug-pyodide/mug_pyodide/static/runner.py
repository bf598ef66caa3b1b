"""Steps a game scene's env for the ``browser`` runtime (inside Pyodide; also plain CPython).

The worker builds one :class:`Runner` per game scene and makes exactly one call into Python per
step, ``Runner.step(actions_json) -> str``, so the JavaScript/Python boundary is crossed once per
frame with a flat string each way.

Agent ids
    Records, policies and actions are keyed by ``str(agent_id)``. For a PettingZoo
    ``ParallelEnv`` (anything with ``possible_agents``) the ids are the env's own. A Gymnasium
    single-agent env (no ``possible_agents``) has exactly one agent: the single id of
    ``agent_ids`` (the policy mapping's key, e.g. ``0``), or ``"0"`` when ``agent_ids`` is None;
    its ``reset``/``step`` values are wrapped in dicts under that key in the records.

Policies (``policies`` maps ``str(agent_id)`` to one of)
    ``{"type": "human"}``: the action comes from the page (``step``'s argument); with no input
    (``null``) the agent plays ``default_action`` or, with ``action_population_method=
    "previous_submitted_action"``, its previous action.
    ``{"type": "random", "seed": s}``: a copy of ``env.action_space(agent)`` (or
    ``env.action_space``) seeded with ``s * 1_000_003 + episode`` at every reset; spaces without
    ``seed`` but with ``n`` use ``random.Random`` with the same seed.
    ``{"type": "heuristic", "reference": "module:attr", "kwargs": {...}}``: ``module`` is one of
    the scene's python files (importable) or the env file's own name (looked up in the env
    code's namespace). A class is instantiated with ``kwargs`` (one instance per agent); a
    function gets ``kwargs`` as keyword arguments. It is called as ``policy.act(observation,
    agent_id)`` when it has ``act``, else ``policy(observation)``; ``reset()`` is called at each
    episode start when it exists.
    Any other type is *external*: computed outside Python (by JavaScript in the worker) and
    passed in through ``step`` like a human's action (see :meth:`Runner.observations`).

Frames
    ``env.render()`` must return a ``mug_core.rendering`` Surface packet (``surface.commit()``)
    or None. A ``ParallelEnv`` whose ``render`` takes an argument is called with the human
    agent's id (its own view), when the scene has exactly one human.

Episodes
    ``reset(episode)`` seeds the env with ``seed + episode``. An episode ends when every live
    agent is terminated or truncated, when a ``ParallelEnv``'s ``agents`` becomes empty, or
    after ``max_steps`` steps (every agent still live is then marked truncated).

JSON
    Step results go through :func:`to_json`: numpy arrays and scalars via ``tolist()``, tuples and
    sets as lists, non-string dict keys as ``str(key)``, anything else as ``str(value)``.
    Non-finite floats (NaN, +-inf) are not valid JSON: they become ``null``.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import inspect
import json
import math
import random
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

POPULATION_METHODS = ("default_action", "previous_submitted_action")
SINGLE_AGENT_KEY = "0"
RANDOM_SEED_STRIDE = 1_000_003


class RunnerError(Exception):
    """A problem with the scene's configuration (agents, policies, env), worded for researchers."""


# --------------------------------------------------------------------------------------- JSON
def _default(value: Any) -> Any:
    tolist = getattr(value, "tolist", None)
    if callable(tolist):  # numpy arrays and scalars (np.int64, np.bool_, ...)
        return tolist()
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _clean(value: Any) -> Any:
    """``value`` with non-finite floats as None and every container made JSON-friendly."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str | int | bool) or value is None:
        return value
    if isinstance(value, Mapping):
        return {k if isinstance(k, str) else str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return _clean(_default(value))


def to_json(value: Any) -> str:
    """Compact JSON for ``value``, never failing: see the module docstring for conversions."""
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False, default=_default)
    except (ValueError, TypeError):  # NaN/inf somewhere, or a key json cannot take
        return json.dumps(_clean(value), separators=(",", ":"), allow_nan=False)


def error_details(exc: BaseException) -> dict[str, str]:
    """``{"message", "traceback"}`` for an exception: its last traceback line, and the whole."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return {"message": message, "traceback": text}


# ------------------------------------------------------------------------------------- files
def install_python_files(files: Mapping[str, str], directory: str | Path) -> list[str]:
    """Write ``{filename: source}`` into ``directory``, put it first on ``sys.path`` and forget
    earlier imports of those modules (a second game scene may ship another ``slime_env.py``).

    Returns the module names written. Only plain names (``util.py``) and relative paths inside
    ``directory`` (``pkg/mod.py``) are accepted.
    """
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    modules = []
    for name, source in files.items():
        relative = Path(name)
        if relative.is_absolute() or ".." in relative.parts:
            raise RunnerError(f"python_files: {name!r} must be a relative path")
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source, encoding="utf-8")
        if relative.suffix == ".py":
            parts = relative.with_suffix("").parts
            modules.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    for module in modules:
        for loaded in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
            del sys.modules[loaded]
    if str(root) in sys.path:
        sys.path.remove(str(root))
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    return modules


# ---------------------------------------------------------------------------------- policies
class _RandomPolicy:
    def __init__(self, space: Any, seed: int) -> None:
        self.seed = int(seed)
        try:
            self.space = copy.deepcopy(space)
        except Exception:
            self.space = space
        self.seedable = callable(getattr(self.space, "seed", None))
        self.rng = random.Random(self.seed)
        if not self.seedable and getattr(self.space, "n", None) is None:
            raise RunnerError(
                f"a random policy needs an action space with seed() or n, got {space!r}"
            )

    def reset(self, episode: int) -> None:
        seed = self.seed * RANDOM_SEED_STRIDE + episode
        if self.seedable:
            self.space.seed(seed)
        self.rng = random.Random(seed)

    def act(self, observation: Any) -> Any:
        if self.seedable:
            return self.space.sample()
        start = int(getattr(self.space, "start", 0))
        return start + self.rng.randrange(int(self.space.n))


class _HeuristicPolicy:
    def __init__(self, target: Any, kwargs: Mapping[str, Any], agent: Any) -> None:
        self.agent = agent
        if inspect.isclass(target):
            self.impl = target(**kwargs)
            kwargs = {}
        else:
            self.impl = target
        self.kwargs = dict(kwargs)
        act = getattr(self.impl, "act", None)
        self.call: Callable[[Any], Any]
        if callable(act):
            self.call = lambda obs: act(obs, self.agent, **self.kwargs)
        elif callable(self.impl):
            self.call = lambda obs: self.impl(obs, **self.kwargs)
        else:
            raise RunnerError(f"heuristic policy {target!r} is neither callable nor has act()")

    def reset(self, episode: int) -> None:
        reset = getattr(self.impl, "reset", None)
        if callable(reset) and not inspect.isclass(self.impl):
            reset()

    def act(self, observation: Any) -> Any:
        return self.call(observation)


def _resolve_reference(reference: str, namespace: Mapping[str, Any], env_module: str) -> Any:
    module_name, sep, attr = str(reference).partition(":")
    if not sep or not module_name or not attr:
        raise RunnerError(f"heuristic reference {reference!r} must look like 'module:name'")
    if module_name == env_module:
        obj: Any = dict(namespace)
        parts = attr.split(".")
        if parts[0] not in obj:
            raise RunnerError(f"heuristic {reference!r}: the env file defines no {parts[0]!r}")
        obj = obj[parts[0]]
        rest = parts[1:]
    else:
        try:
            obj = importlib.import_module(module_name)
        except ImportError as exc:
            raise RunnerError(
                f"heuristic {reference!r}: cannot import {module_name!r} ({exc}); add "
                f"{module_name}.py to the scene's python_files"
            ) from exc
        rest = attr.split(".")
    for part in rest:
        if not hasattr(obj, part):
            raise RunnerError(f"heuristic {reference!r}: {module_name} has no {attr!r}")
        obj = getattr(obj, part)
    return obj


# ------------------------------------------------------------------------------------ runner
def _accepts_argument(method: Any) -> bool:
    try:
        params = inspect.signature(method).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(
        p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL) for p in params
    )


class Runner:
    """One game scene's env, its policies and the episode in progress.

    Args:
        env_code: Python source that defines a global ``env`` when executed.
        env_filename: the name tracebacks show for ``env_code``; ``"<stem>:name"`` heuristic
            references with this file's stem look in its namespace.
        policies: ``{str(agent_id): policy spec}`` (see the module docstring).
        agent_ids: the policy mapping's keys with their JSON types, or None (single agent ``"0"``).
        default_action: a human's action when there is no input.
        action_population_method: ``"default_action"`` or ``"previous_submitted_action"``.
        max_steps: truncate every agent after this many steps (None: only the env ends it).
        record_observations: include each step's observations in its result.
        seed: episode ``k`` resets the env with ``seed + k``.

    Raises:
        RunnerError: for agents the env does not have, policies it cannot build, or bad options;
            any exception of the env code itself propagates unchanged.
    """

    def __init__(
        self,
        env_code: str,
        env_filename: str = "env.py",
        policies: Mapping[str, Mapping[str, Any]] | None = None,
        agent_ids: list[Any] | None = None,
        default_action: Any = 0,
        action_population_method: str = "default_action",
        max_steps: int | None = None,
        record_observations: bool = True,
        seed: int = 0,
    ) -> None:
        if action_population_method not in POPULATION_METHODS:
            raise RunnerError(
                f"action_population_method must be one of {POPULATION_METHODS}, "
                f"got {action_population_method!r}"
            )
        self.default_action = default_action
        self.population = action_population_method
        self.max_steps = max_steps
        self.record_observations = bool(record_observations)
        self.seed = int(seed)
        self.namespace: dict[str, Any] = {"__name__": "__mug_env__", "__file__": env_filename}
        exec(compile(env_code, env_filename, "exec"), self.namespace)
        if "env" not in self.namespace:
            raise RunnerError(f"{env_filename} must define a global named env")
        self.env = self.namespace["env"]
        self.parallel = hasattr(self.env, "possible_agents")
        self.agents = self._agents(agent_ids)
        self.keys = [str(a) for a in self.agents]
        self.by_key = dict(zip(self.keys, self.agents, strict=True))
        policies = dict(policies or {})
        missing = [k for k in self.keys if k not in policies]
        if missing:
            raise RunnerError(
                f"no policy for agent(s) {missing}; policies are for {list(policies)}"
            )
        self.policy_specs = {k: dict(policies[k]) for k in self.keys}
        env_module = Path(env_filename).stem
        self.policies: dict[str, Any] = {}
        for key in self.keys:
            self.policies[key] = self._policy(key, self.policy_specs[key], env_module)
        self.humans = [k for k in self.keys if self.policy_specs[k].get("type") == "human"]
        self.external = [k for k in self.keys if self.policies[k] is None and k not in self.humans]
        render = getattr(self.env, "render", None)
        # A multi-view ParallelEnv draws the human's view with render(agent_id).
        self._render_arg = self.parallel and callable(render) and _accepts_argument(render)
        self.episode = -1
        self.step_count = 0
        self.done = True
        self.returns: dict[str, float] = {}
        self.last_actions: dict[str, Any] = {}
        self.observations_now: dict[str, Any] = {}

    # -- construction --------------------------------------------------------------------------
    def _agents(self, agent_ids: list[Any] | None) -> list[Any]:
        if not self.parallel:
            ids = [SINGLE_AGENT_KEY] if agent_ids is None else list(agent_ids)
            if len(ids) != 1:
                raise RunnerError(
                    f"the env is a single-agent Gymnasium env (no possible_agents), but the policy "
                    f"mapping names {len(ids)} agents {ids}: give exactly one"
                )
            return ids
        possible = list(self.env.possible_agents)
        if agent_ids is None:
            return possible
        unknown = [a for a in agent_ids if a not in possible]
        if unknown:
            raise RunnerError(
                f"the policy mapping names agent(s) {unknown} that the env does not have; "
                f"policy mapping agents: {list(agent_ids)}, env.possible_agents: {possible}"
            )
        without = [a for a in possible if a not in agent_ids]
        if without:
            raise RunnerError(
                f"env.possible_agents {without} have no policy; policy mapping agents: "
                f"{list(agent_ids)}, env.possible_agents: {possible}"
            )
        return list(agent_ids)

    def _action_space(self, agent: Any) -> Any:
        space = getattr(self.env, "action_space", None)
        if self.parallel and callable(space):
            return space(agent)
        if space is None:
            raise RunnerError("a random policy needs env.action_space")
        return space

    def _policy(self, key: str, spec: Mapping[str, Any], env_module: str) -> Any:
        kind = spec.get("type")
        if kind == "human":
            return None
        if kind == "random":
            return _RandomPolicy(self._action_space(self.by_key[key]), int(spec.get("seed", 0)))
        if kind == "heuristic":
            target = _resolve_reference(str(spec.get("reference")), self.namespace, env_module)
            return _HeuristicPolicy(target, spec.get("kwargs") or {}, self.by_key[key])
        return None  # external: computed outside Python, passed in like a human's action

    # -- episodes ------------------------------------------------------------------------------
    def reset(self, episode: int) -> str:
        """Start episode ``episode`` (env seeded with ``seed + episode``).

        Returns JSON ``{"episode", "packet", "observations"?}`` with the first frame.
        """
        self.episode = int(episode)
        self.step_count = 0
        self.done = False
        self.returns = {k: 0.0 for k in self.keys}
        self.last_actions = {k: self.default_action for k in self.keys}
        result = self.env.reset(seed=self.seed + self.episode)
        observations = result[0] if isinstance(result, tuple) and len(result) == 2 else result
        self.observations_now = self._by_key(observations)
        for policy in self.policies.values():
            if policy is not None:
                policy.reset(self.episode)
        out: dict[str, Any] = {"episode": self.episode, "packet": self._render()}
        if self.record_observations:
            out["observations"] = self.observations_now
        return to_json(out)

    def observations(self, keys_json: str | None = None) -> str:
        """JSON ``{agent: observation}`` now, for external policies (``keys_json``: a JSON
        list of agent keys; default: every external agent)."""
        keys = self.external if keys_json is None else json.loads(keys_json)
        return to_json({k: self.observations_now.get(k) for k in keys})

    def action_count(self, key: str) -> int | None:
        """The number of actions of agent ``key`` (a ``Discrete`` space's ``n``), else None."""
        try:
            n = getattr(self._action_space(self.by_key[key]), "n", None)
        except RunnerError:
            return None
        return None if n is None else int(n)

    def step(self, actions_json: str | None = None) -> str:
        """Advance one step. ``actions_json`` is JSON ``{agent: action or null}`` for human and
        external agents (missing or null: no input).

        Returns JSON ``{done, step, actions, rewards, terminated, truncated, infos,
        observations?, returns, packet, timing: [env_ms, render_ms]}`` (``done`` first, so
        ``'{"done":true'`` starts the last step's string); after ``done`` call ``reset``.
        """
        if self.done:
            raise RuntimeError("the episode is over: call reset(episode) first")
        given = json.loads(actions_json) if actions_json else {}
        actions: dict[str, Any] = {}
        live = self._live_keys()
        for key in live:
            policy = self.policies[key]
            if policy is None:
                action = given.get(key)
                if action is None:
                    action = (
                        self.last_actions.get(key, self.default_action)
                        if self.population == "previous_submitted_action"
                        else self.default_action
                    )
            else:
                action = policy.act(self.observations_now.get(key))
            actions[key] = action
        t0 = time.perf_counter()
        if self.parallel:
            result = self.env.step({self.by_key[k]: a for k, a in actions.items()})
        else:
            result = self.env.step(actions[self.keys[0]])
        t1 = time.perf_counter()
        observations, rewards, terminated, truncated, infos = result
        observations = self._by_key(observations)
        rewards = self._by_key(rewards)
        terminated = {k: bool(v) for k, v in self._by_key(terminated).items()}
        truncated = {k: bool(v) for k, v in self._by_key(truncated).items()}
        infos = self._by_key(infos)
        self.observations_now.update(observations)
        self.last_actions.update(actions)
        for key, reward in rewards.items():
            with contextlib.suppress(TypeError, ValueError):
                self.returns[key] = self.returns.get(key, 0.0) + float(reward)
        step = self.step_count
        self.step_count += 1
        if self.max_steps is not None and self.step_count >= self.max_steps:
            truncated = {k: truncated.get(k, False) or not terminated.get(k, False) for k in live}
        self.done = self._episode_over(terminated, truncated)
        t2 = time.perf_counter()
        packet = self._render()
        t3 = time.perf_counter()
        # "done" first: the worker checks the string's start instead of parsing it.
        out: dict[str, Any] = {
            "done": self.done,
            "step": step,
            "actions": actions,
            "rewards": rewards,
            "terminated": terminated,
            "truncated": truncated,
            "infos": infos,
        }
        if self.record_observations:
            out["observations"] = observations
        out["returns"] = self.returns
        out["packet"] = packet
        out["timing"] = [round((t1 - t0) * 1000, 3), round((t3 - t2) * 1000, 3)]
        return to_json(out)

    def close(self) -> None:
        """Close the env (errors ignored)."""
        close = getattr(self.env, "close", None)
        if callable(close):
            with contextlib.suppress(Exception):
                close()

    # -- helpers -------------------------------------------------------------------------------
    def _live_keys(self) -> list[str]:
        if not self.parallel:
            return list(self.keys)
        live = getattr(self.env, "agents", None)
        if live is None:
            return list(self.keys)
        live_set = {str(a) for a in live}
        return [k for k in self.keys if k in live_set]

    def _by_key(self, value: Any) -> dict[str, Any]:
        if not self.parallel:
            return {self.keys[0]: value}
        if not isinstance(value, Mapping):
            raise RunnerError(
                f"a ParallelEnv must return dicts keyed by agent, got {type(value).__name__}"
            )
        return {str(k): v for k, v in value.items()}

    def _episode_over(self, terminated: dict[str, bool], truncated: dict[str, bool]) -> bool:
        if self.max_steps is not None and self.step_count >= self.max_steps:
            return True
        if self.parallel:
            live = getattr(self.env, "agents", None)
            if live is not None and not list(live):
                return True
        flags = [terminated.get(k, False) or truncated.get(k, False) for k in self._live_keys()]
        return bool(flags) and all(flags)

    def _render(self) -> dict[str, Any] | None:
        render = getattr(self.env, "render", None)
        if not callable(render):
            return None
        packet = None
        if self._render_arg and len(self.humans) == 1:
            try:
                packet = render(self.by_key[self.humans[0]])
            except TypeError:  # e.g. a wrapper's render(*args) around a render() without one
                self._render_arg = False
        if not self._render_arg or len(self.humans) != 1:
            packet = render()
        if packet is not None and not isinstance(packet, Mapping):
            raise RunnerError(
                "env.render() must return a mug_core.rendering Surface packet "
                f"(surface.commit()), got {type(packet).__name__}"
            )
        return packet  # type: ignore[return-value]


__all__ = ["Runner", "RunnerError", "error_details", "install_python_files", "to_json"]
