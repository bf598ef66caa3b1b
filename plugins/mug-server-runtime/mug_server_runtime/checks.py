"""Start-up checks of ``server`` game scenes (``mug_validate_config``).

Each scene's env is built once before any participant arrives, the way a game builds it: its
files are run, its AI policies are loaded and the env is reset. That happens in a process of
its own (``python -m mug_server_runtime.checks``), so the env's packages and side effects stay
out of the study server, and an env that hangs cannot hang the start-up (:data:`TIMEOUT_S`).
A broken env file, a policy that does not load, or a ``policy_mapping`` whose keys are not the
env's agents is then a message at start-up (and from ``mug check``), not an error page for the
first participant.
"""

from __future__ import annotations

import pickle
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from mug_server_runtime.worker import child_environment

TIMEOUT_S = 120.0
"""How long building one scene's env may take before start-up reports it as hanging."""


def scene_problems(scene: Any) -> list[str]:
    """What would stop the games of ``scene`` (a ``server`` GymScene), each a message saying
    what to change; empty when its env builds and its agents match its policies."""
    name = f"GymScene {scene.scene_id!r}"
    try:
        data = pickle.dumps(scene)
    except Exception as exc:  # games are built from the same copy in game processes
        return [f"{name} cannot be sent to a game process ({type(exc).__name__}: {exc})"]
    with tempfile.TemporaryDirectory(prefix="mug-check-") as folder:
        scene_file, result_file = Path(folder) / "scene.pickle", Path(folder) / "result.pickle"
        scene_file.write_bytes(data)
        command = [sys.executable, "-m", "mug_server_runtime.checks", str(scene_file)]
        try:
            finished = subprocess.run(
                [*command, str(result_file)],
                env=child_environment(),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            return [f"{name}: building its env took over {TIMEOUT_S:g} s; does the env file wait?"]
        if not result_file.exists():
            tail = " ".join(finished.stderr.decode(errors="replace").strip().splitlines()[-3:])
            return [
                f"{name}: building its env ended its process (exit code {finished.returncode})"
                + (f": {tail}" if tail else "")
            ]
        result = pickle.loads(result_file.read_bytes())
    if result["error"] is not None:
        return [f"{name}: its env could not be built: {result['error']}"]
    agents = result["agents"]
    if agents is None:  # a single-agent (Gymnasium) env: any one key names its agent
        if len(scene.policy_mapping) != 1:
            return [
                f"{name}: its env has one agent, but policy_mapping has "
                f"{len(scene.policy_mapping)} entries; give it one"
            ]
        return []
    problems = []
    unknown = [agent for agent in scene.policy_mapping if agent not in agents]
    missing = [agent for agent in agents if agent not in scene.policy_mapping]
    if unknown:
        problems.append(
            f"{name}: policy_mapping names {_names(unknown)}, which its env does not have; "
            f"its agents are {_names(agents)}"
        )
    if missing:
        agents_have = "agents {} have" if len(missing) > 1 else "agent {} has"
        problems.append(
            f"{name}: its env's {agents_have.format(_names(missing))} no policy; give every "
            "agent one in policy_mapping"
        )
    return problems


def _names(agents: list[Any]) -> str:
    return ", ".join(repr(agent) for agent in agents)


def probe(scene: Any) -> dict[str, Any]:
    """Build ``scene``'s env as a game does: ``{"agents": the env's possible agents (None for a
    single-agent env), "error": None}``, or the error that stopped it."""
    from mug_server_runtime.envload import EnvFiles, EnvLoadError
    from mug_server_runtime.game import build_env

    files = None
    try:
        files = EnvFiles(scene)
        built = build_env(scene, files, 0)
        env = built.env
        agents = None
        if built.multi:
            agents = list(
                getattr(env, "possible_agents", None) or getattr(env, "agents", None) or []
            )
        env.reset(seed=0)
    except EnvLoadError as exc:  # says which file failed, and how
        return {"agents": None, "error": str(exc)}
    except Exception as exc:
        return {"agents": None, "error": f"{type(exc).__name__}: {exc}"}
    finally:
        if files is not None:
            shutil.rmtree(files.folder, ignore_errors=True)
    return {"agents": agents, "error": None}


def main() -> None:
    scene = pickle.loads(Path(sys.argv[1]).read_bytes())
    result = probe(scene)
    try:
        data = pickle.dumps(result)
    except Exception:  # agent ids that do not pickle: compare their text
        data = pickle.dumps({**result, "agents": [repr(a) for a in result["agents"] or []]})
    Path(sys.argv[2]).write_bytes(data)


if __name__ == "__main__":
    main()
