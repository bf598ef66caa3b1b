"""``GymScene``: a Gymnasium env or PettingZoo ParallelEnv played in the study.

The scene is configuration plus the server side of recording; a runtime plugin steps the env
(``browser``: Pyodide in the participant's page, from ``mug-pyodide``). ``docs/game-protocol.md``
is the contract between the two.
"""

from __future__ import annotations

import ast
import hashlib
import json
import logging
import secrets
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Self

import attrs

from mug_core.configurations.configuration_constants import (
    HeuristicPolicy,
    ModelConfig,
    PolicyTypes,
)
from mug_core.scenes.gym_recording import handle_game_event
from mug_core.scenes.scene import EventResult, Response, Scene, SceneContext

log = logging.getLogger(__name__)

RUNTIME_EXTRAS = {"browser": "pyodide", "server": "server-runtime"}
INPUT_MODES = ("pressed_keys", "single_keystroke")
POPULATION_METHODS = ("default_action", "previous_submitted_action")
P2P_TRANSPORTS = ("webrtc", "relay")
P2P_RUNTIME = "p2p"


def _imported_names(source: str) -> set[str]:
    """Top-level module names that ``source`` imports (empty if it does not parse)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.partition(".")[0])
    return names


def _served_name(path: Path) -> str:
    """A content-addressed URL name, so a changed model is never served from a stale cache."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return f"{digest}{path.suffix}"


def _defined_functions(source: str) -> set[str]:
    """Names of the functions and methods ``source`` defines (empty if it does not parse)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def _ice_server(server: Any) -> dict[str, Any]:
    """One RTCIceServer: ``{"urls": ..., "username"?: ..., "credential"?: ...}``."""
    if isinstance(server, str):
        server = {"urls": server}
    if not isinstance(server, Mapping) or "urls" not in server:
        raise ValueError(
            "multiplayer(): each ice_servers entry is a URL or a dict with 'urls' "
            f"(and 'username'/'credential' for TURN), got {server!r}"
        )
    urls = server["urls"]
    if isinstance(urls, str):
        urls = [urls]
    if not urls or not all(
        isinstance(u, str) and u.startswith(("stun:", "turn:", "turns:")) for u in urls
    ):
        raise ValueError(
            f"multiplayer(): ice server urls must start with stun:, turn: or turns:, got {urls!r}"
        )
    unknown = set(server) - {"urls", "username", "credential"}
    if unknown:
        raise ValueError(f"multiplayer(): unknown ice server field(s) {sorted(unknown)}")
    return {
        "urls": list(urls),
        **{k: str(server[k]) for k in ("username", "credential") if k in server},
    }


def _key_combo(key: Any) -> list[str]:
    keys = list(key) if isinstance(key, tuple | list) else [key]
    if not keys or not all(isinstance(k, str) and k for k in keys):
        raise ValueError(f"gameplay(): action_mapping keys must be key names, got {key!r}")
    return keys


@attrs.define(eq=False)
class GymScene(Scene):
    """A game scene. Chain the builders like the seed::

    GymScene().scene("game").policies(policy_mapping={0: PolicyTypes.Human})
        .rendering(fps=30, game_width=600, game_height=300)
        .runtime(environment_initialization_code_filepath="env_file.py")
        .gameplay(action_mapping={"ArrowLeft": 1}, default_action=0, num_episodes=2)
    """

    scene_type = "gym"
    policy_mapping: dict[Any, Any] = attrs.field(factory=dict)
    frame_skip: int = 1
    fps: int = 30
    game_width: int = 600
    game_height: int = 400
    background: str = "#ffffff"
    hud: str | None = None
    runtime_name: str = "browser"
    env_code: str | None = None
    env_filename: str = "env.py"
    python_files: dict[str, str] = attrs.field(factory=dict)
    packages_to_install: list[str] = attrs.field(factory=list)
    action_mapping: list[tuple[list[str], Any]] = attrs.field(factory=list)
    default_action: Any = 0
    num_episodes: int = 1
    max_steps: int | None = None
    input_mode: str = "pressed_keys"
    action_population_method: str = "default_action"
    countdown_s: int = 3
    record_observations: bool = True
    seed: int | None = None
    scene_header: str | None = None
    scene_body: str | None = None
    in_game_scene_body: str | None = None
    waitroom_timeout_s: float = 120.0
    timeout_redirect_url: str | None = None
    timeout_scene_id: str | None = None
    timeout_message: str = "Sorry, no other participant arrived in time."
    timeout_completion_code: str | bool | None = None
    matchmaker: str = "fifo"
    matchmaker_options: dict[str, Any] = attrs.field(factory=dict)
    assets_dir: Path | None = None
    _env_folder: Path | None = attrs.field(default=None, repr=False)
    rejoin_timeout_s: float = 20.0
    after_timeout: str = "ai"
    replacement_policy: Any = PolicyTypes.Random
    end_message: str = "Your partner left, so this game has ended."
    multiplayer_options: dict[str, Any] | None = None

    def policies(self, policy_mapping: Mapping[Any, Any], frame_skip: int = 1) -> Self:
        """Who controls each agent: ``PolicyTypes.Human``, ``PolicyTypes.Random``, a
        ``HeuristicPolicy`` or (with mug-onnx) a ``ModelConfig``. Keys are the env's agent ids."""
        if not isinstance(policy_mapping, Mapping) or not policy_mapping:
            raise ValueError("policies(): policy_mapping must map agent ids to policies")
        if not isinstance(frame_skip, int) or frame_skip < 1:
            raise ValueError("policies(): frame_skip must be 1 or more")
        self.policy_mapping = dict(policy_mapping)
        self.frame_skip = frame_skip
        return self

    def rendering(
        self,
        fps: int | None = None,
        game_width: int | None = None,
        game_height: int | None = None,
        background: str | None = None,
        hud: str | None = None,
        assets_dir: str | Path | None = None,
    ) -> Self:
        """Frame rate, game size in pixels, background colour, a HUD text template
        (``{episode}``, ``{num_episodes}``, ``{step}``, ``{max_steps}``, ``{score}``), and the
        folder of images the env registers with relative paths (``register_image("ball",
        "ball.png")``), which the server then serves to the page."""
        if fps is not None:
            if not isinstance(fps, int) or not 1 <= fps <= 120:
                raise ValueError(f"rendering(): fps must be 1 to 120, got {fps!r}")
            self.fps = fps
        for name, value in (("game_width", game_width), ("game_height", game_height)):
            if value is not None:
                if not isinstance(value, int) or not 16 <= value <= 4096:
                    raise ValueError(f"rendering(): {name} must be 16 to 4096 pixels")
                setattr(self, name, value)
        if background is not None:
            self.background = background
        if hud is not None:
            self.hud = hud
        if assets_dir is not None:
            if not Path(assets_dir).is_dir():
                raise ValueError(f"rendering(): assets_dir {str(assets_dir)!r} is not a folder")
            self.assets_dir = Path(assets_dir)
        return self

    def runtime(
        self,
        environment_initialization_code_filepath: str | Path | None = None,
        environment_initialization_code: str | None = None,
        packages_to_install: Sequence[str] = (),
        python_files: Sequence[str | Path] | None = None,
        runtime: str = "browser",
    ) -> Self:
        """Where and how the env is built. The code (a file, or a string) defines a global
        ``env``. ``python_files`` are modules it needs; by default, the modules beside the env
        file that it (or they, or a ``HeuristicPolicy``) import. ``packages_to_install`` come
        from the package index."""
        if (environment_initialization_code_filepath is None) == (
            environment_initialization_code is None
        ):
            raise ValueError(
                "runtime(): give environment_initialization_code_filepath or "
                "environment_initialization_code (one of them)"
            )
        if environment_initialization_code_filepath is not None:
            path = Path(environment_initialization_code_filepath)
            if not path.is_file():
                raise ValueError(f"runtime(): no env file at {str(path)!r}")
            self.env_code = path.read_text(encoding="utf-8")
            self.env_filename = path.name
            if python_files is None:
                self._env_folder = path.parent
        else:
            self.env_code = environment_initialization_code
        files: dict[str, str] = {}
        for file in python_files or ():
            file_path = Path(file)
            if not file_path.is_file():
                raise ValueError(f"runtime(): python_files: no file at {str(file_path)!r}")
            files[file_path.name] = file_path.read_text(encoding="utf-8")
        self.python_files = files
        if python_files is not None:
            self._env_folder = None
        self.packages_to_install = list(packages_to_install)
        self.runtime_name = runtime
        return self

    def gameplay(
        self,
        action_mapping: Mapping[Any, Any] | None = None,
        default_action: Any = None,
        num_episodes: int | None = None,
        max_steps: int | None = None,
        input_mode: str | None = None,
        action_population_method: str | None = None,
        countdown_s: int | None = None,
        record_observations: bool | None = None,
        seed: int | None = None,
    ) -> Self:
        """Keys to actions (a key, or a tuple of keys pressed together), the action with no
        input, episodes, the step limit, input mode (``"pressed_keys"`` or
        ``"single_keystroke"``), what a human does without input, and the base seed."""
        if action_mapping is not None:
            self.action_mapping = [(_key_combo(k), v) for k, v in action_mapping.items()]
        if default_action is not None:
            self.default_action = default_action
        if num_episodes is not None:
            if not isinstance(num_episodes, int) or num_episodes < 1:
                raise ValueError("gameplay(): num_episodes must be 1 or more")
            self.num_episodes = num_episodes
        if max_steps is not None:
            if not isinstance(max_steps, int) or max_steps < 1:
                raise ValueError("gameplay(): max_steps must be 1 or more")
            self.max_steps = max_steps
        if input_mode is not None:
            if input_mode not in INPUT_MODES:
                raise ValueError(f"gameplay(): input_mode must be one of {INPUT_MODES}")
            self.input_mode = input_mode
        if action_population_method is not None:
            if action_population_method not in POPULATION_METHODS:
                raise ValueError(
                    f"gameplay(): action_population_method must be one of {POPULATION_METHODS}"
                )
            self.action_population_method = action_population_method
        if countdown_s is not None:
            self.countdown_s = countdown_s
        if record_observations is not None:
            self.record_observations = record_observations
        if seed is not None:
            self.seed = seed
        return self

    def content(
        self,
        scene_header: str | None = None,
        scene_body: str | None = None,
        in_game_scene_body: str | None = None,
    ) -> Self:
        """Text around the game: before it (header, body) and while it runs. ``{participant_id}``
        is filled in per participant."""
        self.scene_header = scene_header
        self.scene_body = scene_body
        self.in_game_scene_body = in_game_scene_body
        return self

    def waitroom(
        self,
        timeout: float = 120.0,
        timeout_redirect_url: str | None = None,
        timeout_scene_id: str | None = None,
        timeout_message: str | None = None,
        timeout_completion_code: str | bool | None = None,
        matchmaker: str = "fifo",
        **matchmaker_options: Any,
    ) -> Self:
        """How players are grouped when the game has several humans.

        A ``matchmaker`` forms groups of waiting participants: ``"fifo"`` (arrival order),
        ``"latency"`` (only participants whose estimated peer round trip is under
        ``max_rtt_ms``) or ``"regroup"`` (the partners of the earlier scene ``regroup_from``),
        or one a plugin registers. Any other keyword argument is an option of the matchmaker::

            .waitroom(timeout=90, matchmaker="latency", max_rtt_ms=120)
            .waitroom(matchmaker="regroup", regroup_from="game1", fallback="timeout")

        After ``timeout`` seconds without a group a participant is moved to the scene
        ``timeout_scene_id``, or shown ``timeout_message`` and, with
        ``timeout_completion_code``, a completion code (a fixed text, or ``True`` for a random
        code per participant; it is recorded as the participant's completion code), and then
        sent to ``timeout_redirect_url`` if given. ``{participant_id}`` and
        ``{completion_code}`` in the URL are filled in.
        """
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise ValueError("waitroom(): timeout must be a positive number of seconds")
        if timeout_scene_id is not None and (
            timeout_redirect_url is not None or timeout_completion_code not in (None, False)
        ):
            raise ValueError(
                "waitroom(): timeout_scene_id moves the participant to that scene; give it "
                "alone, or give timeout_redirect_url / timeout_completion_code instead"
            )
        if not (
            timeout_completion_code in (None, True, False)
            or (isinstance(timeout_completion_code, str) and timeout_completion_code.strip())
        ):
            raise ValueError(
                "waitroom(): timeout_completion_code must be a non-empty code, or True for a "
                "random code per participant"
            )
        if timeout_redirect_url is not None and not (
            isinstance(timeout_redirect_url, str)
            and timeout_redirect_url.startswith(("https://", "http://"))
        ):
            raise ValueError("waitroom(): timeout_redirect_url must be an http(s):// URL")
        if not isinstance(matchmaker, str) or not matchmaker:
            raise ValueError("waitroom(): matchmaker must be the name of a registered matchmaker")
        self.waitroom_timeout_s = float(timeout)
        self.timeout_redirect_url = timeout_redirect_url
        self.timeout_scene_id = timeout_scene_id
        if timeout_message is not None:
            self.timeout_message = timeout_message
        self.timeout_completion_code = timeout_completion_code or None
        self.matchmaker = matchmaker
        self.matchmaker_options = dict(matchmaker_options)
        return self

    def reconnection(
        self,
        timeout_s: float = 20.0,
        then: str = "ai",
        replacement: Any = PolicyTypes.Random,
        message: str | None = None,
    ) -> Self:
        """What happens when a player's page drops mid-game: their agent plays the default
        action while they may rejoin for ``timeout_s``; then ``then="ai"`` hands the agent to
        ``replacement`` (a policy), or ``then="end"`` ends the game for everyone with
        ``message``. Both are recorded."""
        if then not in ("ai", "end"):
            raise ValueError("reconnection(): then must be 'ai' or 'end'")
        if not isinstance(timeout_s, int | float) or timeout_s < 0:
            raise ValueError("reconnection(): timeout_s must be zero or more seconds")
        self.rejoin_timeout_s = float(timeout_s)
        self.after_timeout = then
        self.replacement_policy = replacement
        if message is not None:
            self.end_message = message
        return self

    def multiplayer(
        self,
        input_delay: int = 2,
        max_prediction: int = 8,
        checksum_interval: int = 30,
        transport: str = "webrtc",
        ice_servers: Sequence[Any] = (),
        relay_only: bool = False,
        stall_notice_s: float = 0.5,
    ) -> Self:
        """Play peer to peer (needs ``mug-core[p2p]``): every participant of the group runs the
        env in their own page, only inputs travel between them, and rollback hides the delay.

        ``input_delay`` frames pass before a key press takes effect (more delay, fewer
        rollbacks); at most ``max_prediction`` frames are simulated ahead of the other players'
        inputs before the game waits for them; every ``checksum_interval`` frames the peers
        compare checksums of the confirmed state and record any desync (0: never).
        ``transport="webrtc"`` connects the pages directly (falling back to the server relay
        when that fails); ``"relay"`` always goes through the server. ``ice_servers`` are STUN
        or TURN servers (URLs, or dicts with ``urls``, ``username``, ``credential``);
        ``relay_only=True`` uses only TURN relays. The game pauses with a notice after
        ``stall_notice_s`` seconds without the other players' inputs. A player whose page
        drops is handled as ``.reconnection()`` says. The env must define ``get_state()`` and
        ``set_state(state)`` (JSON-like snapshots of everything ``step`` depends on).
        """
        for name, value, high in (
            ("input_delay", input_delay, 32),
            ("max_prediction", max_prediction, 64),
            ("checksum_interval", checksum_interval, 1_000_000),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
                raise ValueError(f"multiplayer(): {name} must be an integer from 0 to {high}")
        if transport not in P2P_TRANSPORTS:
            raise ValueError(f"multiplayer(): transport must be one of {P2P_TRANSPORTS}")
        if isinstance(ice_servers, str | Mapping):
            ice_servers = [ice_servers]
        if not isinstance(stall_notice_s, int | float) or stall_notice_s < 0:
            raise ValueError("multiplayer(): stall_notice_s must be zero or more seconds")
        self.multiplayer_options = {
            "input_delay": input_delay,
            "max_prediction": max_prediction,
            "checksum_interval": checksum_interval,
            "transport": transport,
            "ice_servers": [_ice_server(s) for s in ice_servers],
            "relay_only": bool(relay_only),
            "stall_notice_s": float(stall_notice_s),
        }
        return self

    @property
    def peer_to_peer(self) -> bool:
        """True when the game is played peer to peer (``.multiplayer()`` with several humans)."""
        return self.multiplayer_options is not None and self.group_size > 1

    def _multiplayer_problems(self) -> list[str]:
        if self.multiplayer_options is None:
            return []
        name = f"GymScene {self.scene_id!r}"
        problems = []
        if self.group_size < 2:
            problems.append(
                f"{name} calls .multiplayer() but has {self.group_size} human player(s): "
                "peer-to-peer play needs two or more PolicyTypes.Human agents"
            )
        if self.runtime_name != "browser":
            problems.append(
                f"{name}: .multiplayer() runs the env in every participant's page; use "
                f".runtime(runtime='browser'), not {self.runtime_name!r}"
            )
        for agent, policy in self.policy_mapping.items():
            if isinstance(policy, ModelConfig):
                problems.append(
                    f"{name}: agent {agent!r} has an ONNX policy, which peer-to-peer games do not "
                    "run yet; use PolicyTypes.Random or a HeuristicPolicy"
                )
        if self.env_code is not None:
            sources = [self.env_code, *self.python_files.values()]
            defined = set().union(*(_defined_functions(source) for source in sources))
            shipped = {Path(name).stem for name in self.python_files}
            # An env from an installed package may define them there: only the page can tell.
            elsewhere = {
                module
                for source in sources
                for module in _imported_names(source)
                if module not in shipped
                and module not in sys.stdlib_module_names
                and module not in ("mug_core", "__future__")
            }
            missing = [m for m in ("get_state", "set_state") if m not in defined]
            if missing and not elsewhere:
                problems.append(
                    f"{name}: .multiplayer() needs the env of {self.env_filename} (or the modules "
                    f"it imports) to define {' and '.join(f'{m}()' for m in missing)}: rollback "
                    "saves and restores the env's state with get_state()/set_state(state)"
                )
        return problems

    @property
    def group_size(self) -> int:
        """How many participants play one game together (the human agents)."""
        return sum(1 for p in self.policy_mapping.values() if p == PolicyTypes.Human)

    @property
    def human_agents(self) -> list[Any]:
        """The agent ids participants control, in policy-mapping order."""
        return [a for a, p in self.policy_mapping.items() if p == PolicyTypes.Human]

    # -- server side ---------------------------------------------------------------------------

    def _collect_sibling_modules(self) -> None:
        # Ship what the env code imports from its own folder, and what those import, plus the
        # modules heuristic policies name; never unrelated scripts that happen to sit there.
        folder = self._env_folder
        if folder is None:
            return
        wanted = {
            p.reference.partition(":")[0]
            for p in self.policy_mapping.values()
            if isinstance(p, HeuristicPolicy)
        }
        sources = [self.env_code or ""]
        while sources:
            for name in _imported_names(sources.pop()):
                wanted.add(name)
            for name in sorted(wanted):
                file = folder / f"{name}.py"
                if f"{name}.py" not in self.python_files and file.is_file():
                    source = file.read_text(encoding="utf-8")
                    self.python_files[f"{name}.py"] = source
                    sources.append(source)

    def check(self) -> list[str]:
        self._collect_sibling_modules()
        problems = super().check()
        name = f"GymScene {self.scene_id!r}"
        if self.env_code is None:
            problems.append(f"{name} has no environment: call .runtime(...)")
        else:
            try:
                compile(self.env_code, self.env_filename, "exec")
            except SyntaxError as exc:
                problems.append(f"{name}: the env file {self.env_filename} does not parse: {exc}")
        if not self.policy_mapping:
            problems.append(f"{name} has no policies: call .policies(policy_mapping={{...}})")
        if PolicyTypes.Human in self.policy_mapping.values() and not self.action_mapping:
            problems.append(f"{name} has a human player but no keys: .gameplay(action_mapping=)")
        for agent, policy in self.policy_mapping.items():
            if not isinstance(policy, PolicyTypes | HeuristicPolicy | ModelConfig):
                problems.append(f"{name}: agent {agent!r} has an unknown policy {policy!r}")
        problems.extend(self._multiplayer_problems())
        return problems

    def served_files(self) -> dict[str, Path]:
        files = {}
        if self.assets_dir is not None:
            for file in sorted(self.assets_dir.rglob("*")):
                if file.is_file():
                    files[f"{self.scene_id}/{file.relative_to(self.assets_dir).as_posix()}"] = file
        for policy in self.policy_mapping.values():
            path = getattr(policy, "onnx_path", None)
            if path is not None and Path(path).is_file():
                files[_served_name(Path(path))] = Path(path)
        return files

    def _matchmaker_problems(self, registries: Any) -> list[str]:
        """The waitroom's matchmaker must exist and accept its options (tried by building one)."""
        if self.group_size < 2:
            return []
        name = f"GymScene {self.scene_id!r}"
        if self.matchmaker not in registries.matchmakers:
            known = ", ".join(registries.matchmakers.names())
            return [f"{name}: no matchmaker called {self.matchmaker!r} (available: {known})"]
        try:
            factory = registries.matchmakers.get(self.matchmaker)
            factory(self.group_size, **self.matchmaker_options)
        except (TypeError, ValueError) as exc:
            given = ", ".join(sorted(self.matchmaker_options)) or "none"
            return [
                f"{name}: the {self.matchmaker!r} matchmaker refuses the options of "
                f".waitroom() (given: {given}): {exc}"
            ]
        return []

    def plugin_problems(self, registries: Any) -> list[str]:
        problems = []
        problems.extend(self._matchmaker_problems(registries))
        if self.runtime_name not in registries.runtimes:
            extra = RUNTIME_EXTRAS.get(self.runtime_name)
            hint = f": install it with pip install 'mug-core[{extra}]'" if extra else ""
            problems.append(
                f"GymScene {self.scene_id!r} runs in the {self.runtime_name!r} runtime, which no "
                f"installed plugin provides{hint}"
            )
        if self.peer_to_peer and P2P_RUNTIME not in registries.runtimes:
            problems.append(
                f"GymScene {self.scene_id!r} is played peer to peer (.multiplayer()), which needs "
                "the mug-p2p plugin: install it with pip install 'mug-core[p2p]'"
            )
        for agent, policy in self.policy_mapping.items():
            backend = getattr(policy, "backend", None)
            if backend is not None and backend not in registries.policy_backends:
                problems.append(
                    f"GymScene {self.scene_id!r}: agent {agent!r} needs the {backend!r} policy "
                    f"backend: install it with pip install 'mug-core[{backend}]'"
                )
        return problems

    def policy_spec(self, agent: Any, policy: Any, seed: int) -> dict[str, Any]:
        """How the page's runtime should act for ``agent``."""
        if policy == PolicyTypes.Human:
            return {"type": "human"}
        if policy == PolicyTypes.Random:
            return {"type": "random", "seed": seed}
        if isinstance(policy, HeuristicPolicy):
            return {"type": "heuristic", "reference": policy.reference, "kwargs": policy.kwargs}
        if isinstance(policy, ModelConfig):
            return {
                "type": "onnx",
                "url": f"/study-files/{_served_name(Path(policy.onnx_path))}",
                "obs_input": policy.obs_input,
                "logit_output": policy.logit_output,
                "state_inputs": list(policy.state_inputs),
                "state_outputs": list(policy.state_outputs),
                "state_shape": None if policy.state_shape is None else list(policy.state_shape),
                "fixed_inputs": policy.fixed_inputs,
                "selection": policy.selection,
                "temperature": policy.temperature,
                "act_every": policy.act_every,
                "between": policy.between,
                "seed": seed,
            }
        raise ValueError(f"agent {agent!r}: no runtime support for policy {policy!r}")

    def client_spec(self, context: SceneContext) -> dict[str, Any]:
        self._collect_sibling_modules()
        state = context.scene_state
        if "seed" not in state:
            state["seed"] = self.seed if self.seed is not None else secrets.randbits(31)
        seed = state["seed"]

        def fill(text: str | None) -> str | None:
            return (
                None if text is None else text.replace("{participant_id}", context.participant_id)
            )

        return {
            "runtime": P2P_RUNTIME if self.peer_to_peer else self.runtime_name,
            "header": fill(self.scene_header),
            "body": fill(self.scene_body),
            "in_game_body": fill(self.in_game_scene_body),
            "fps": self.fps,
            "width": self.game_width,
            "height": self.game_height,
            "background": self.background,
            "hud": self.hud,
            "env_code": self.env_code,
            "env_filename": self.env_filename,
            "python_files": self.python_files,
            "packages": self.packages_to_install,
            "policies": {
                str(agent): self.policy_spec(agent, policy, seed + i)
                for i, (agent, policy) in enumerate(self.policy_mapping.items())
            },
            "agent_ids": list(self.policy_mapping),
            "action_mapping": [[keys, action] for keys, action in self.action_mapping],
            "default_action": self.default_action,
            "input_mode": self.input_mode,
            "action_population_method": self.action_population_method,
            "num_episodes": self.num_episodes,
            "episodes_done": state.get("episodes_done", 0),
            "acked": state.get("acked", {}),
            "max_steps": self.max_steps,
            "seed": seed,
            "record_observations": self.record_observations,
            "countdown_s": self.countdown_s,
            "chunk_bytes": context.max_payload_bytes // 2,
            "assets_base": f"/study-files/{self.scene_id}/" if self.assets_dir else None,
            "group_size": self.group_size,
            "group": state.get("group"),
            "waitroom": {
                "timeout_s": self.waitroom_timeout_s,
                "timed_out": state.get("timed_out"),
            },
            "multiplayer": self._multiplayer_spec(),
        }

    def _multiplayer_spec(self) -> dict[str, Any] | None:
        """What the ``p2p`` runtime of the page needs: the options and the reconnection rules."""
        if not self.peer_to_peer or self.multiplayer_options is None:
            return None
        replacement = self.replacement_policy
        return {
            **self.multiplayer_options,
            "rejoin_timeout_s": self.rejoin_timeout_s,
            "after_timeout": self.after_timeout,
            "end_message": self.end_message,
            # Every page of a group plays the same episodes: with no seed set, the pages take
            # one from the group's game id (each participant's own seed differs).
            "seed": self.seed,
            "replacement": self.policy_spec("replacement", replacement, 0)
            if isinstance(replacement, PolicyTypes | HeuristicPolicy)
            else {"type": "random", "seed": 0},
        }

    def handle_event(
        self, name: str, payload: Mapping[str, Any], context: SceneContext
    ) -> EventResult:
        """Record the page's ``steps``, ``episode_end`` and ``error`` events."""
        return handle_game_event(self, name, payload, context)

    def handle_response(self, payload: Mapping[str, Any], context: SceneContext) -> Response:
        done = context.scene_state.get("episodes_done", 0)
        state = context.scene_state
        if done < self.num_episodes and not (state.get("errors") or state.get("ended")):
            return Response(
                errors={"": f"{self.num_episodes - done} episode(s) are still to be played."}
            )
        return Response(
            values={
                "episodes_done": done,
                "errors": json.dumps(context.scene_state.get("errors", [])),
                "ended": state.get("ended"),
            }
        )


__all__ = ["GymScene"]
