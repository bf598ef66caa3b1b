"""One game on the server: its env steps on a thread of its own at a fixed schedule.

The loop never sleeps "one frame" after doing its work: ticks are scheduled against a
monotonic clock, so a game at 30 fps does 30 steps a second without drifting, and a slow step
only delays that game. Frames go to the event loop in one hand-off per tick; step records are
committed to the study's store about once a second.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mug_core.data.records import Record
from mug_core.scenes.gym_scene import GymScene
from mug_server_runtime.actors import KeyState, action_space, build_actors
from mug_server_runtime.encoding import FrameStream
from mug_server_runtime.envload import EnvFiles

if TYPE_CHECKING:
    from mug_server_runtime.games import GameManager

log = logging.getLogger(__name__)

FLUSH_EVERY_S = 1.0


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and value != value:
        return None
    return value


class Player:
    """A participant in the game: their agent, keys, frames and connection."""

    def __init__(self, pid: str, agent: Any, scene: GymScene) -> None:
        self.pid = pid
        self.agent = agent
        self.keys = KeyState(scene)
        self.frames = FrameStream()
        self.sid: str | None = None
        self.left_at: float | None = None
        self.replaced = False
        self.pending_inputs: list[tuple[float, float, str, bool]] = []


class ServerGame:
    """A running game. Thread-safe entry points: :meth:`attach`, :meth:`detach`, :meth:`key`."""

    def __init__(
        self,
        manager: GameManager,
        scene: GymScene,
        scene_key: str,
        game_id: str,
        members: dict[str, Any],
        seed: int,
        episodes_done: int,
    ) -> None:
        self.manager = manager
        self.scene = scene
        self.scene_key = scene_key
        self.game_id = game_id
        self.seed = seed
        self.episode = episodes_done
        self.players = {pid: Player(pid, agent, scene) for pid, agent in members.items()}
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.started = threading.Event()
        self.ticks_late: list[float] = []
        self.step_count = 0
        self.files = EnvFiles(scene)
        with self.files.importable():
            self.namespace = self.files.namespace()
            self.env = self.namespace["env"]
            self.multi = callable(getattr(self.env, "action_space", None))
            self.actors = build_actors(scene, self.env, seed, self.namespace)
        self._records: list[Record] = []
        self._thread = threading.Thread(target=self._run, name=f"mug-game-{game_id}", daemon=True)

    # -- entry points (any thread) -------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def attach(self, pid: str, sid: str) -> None:
        """(Re)connect a player's page; they get a fresh frame stream."""
        with self.lock:
            player = self.players[pid]
            player.sid = sid
            player.left_at = None
            first = player.frames.restart()
            stream = player.frames.stream_id
        if first:
            self.manager.send_frames([(sid, stream, first)])

    def detach(self, pid: str) -> None:
        """A player's page closed: their agent plays the default action for now."""
        with self.lock:
            player = self.players.get(pid)
            if player is not None and player.sid is not None:
                player.sid = None
                player.left_at = time.monotonic()
                player.keys.release_all()
                self._event(player, "disconnected", None)

    def key(self, pid: str, key: str, down: bool, client_t: float | None) -> None:
        """A key went down or up in a player's page."""
        with self.lock:
            player = self.players.get(pid)
            if player is None:
                return
            player.keys.key(key, down)
            player.pending_inputs.append((time.monotonic(), client_t or 0.0, key, down))

    def stop(self) -> None:
        self.stopped.set()

    def all_attached(self) -> bool:
        with self.lock:
            return all(p.sid is not None for p in self.players.values())

    # -- the loop (game thread) ----------------------------------------------------------------

    def _run(self) -> None:
        try:
            while self.episode < self.scene.num_episodes and not self.stopped.is_set():
                self._countdown()
                self._play_episode()
                self.episode += 1
                self.manager.episode_done(self, self.episode)
            if not self.stopped.is_set():
                self.manager.game_over(self, None)
        except Exception as exc:  # a crashing env ends its own game only
            log.exception("game %s (%s) crashed", self.game_id, self.scene_key)
            self._flush()
            self.manager.game_over(self, f"The game stopped because of an error: {exc}")

    def _wait_until(self, deadline: float) -> None:
        delay = deadline - time.monotonic()
        if delay > 0:
            self.stopped.wait(delay)

    def _countdown(self) -> None:
        seconds = self.scene.countdown_s
        start = time.monotonic()
        for left in range(seconds, 0, -1):
            self._hud_only({"countdown": left, "episode": self.episode})
            self._wait_until(start + (seconds - left + 1))
            if self.stopped.is_set():
                return

    def _play_episode(self) -> None:
        scene = self.scene
        seed = self.seed + self.episode
        reset = self.env.reset(seed=seed)
        observations = reset[0] if isinstance(reset, tuple) else reset
        for actor in self.actors.values():
            actor.reset()
        period = 1.0 / scene.fps
        next_tick = time.monotonic()
        step = 0
        last_flush = next_tick
        while not self.stopped.is_set():
            now = time.monotonic()
            self.ticks_late.append(now - next_tick)
            observations, done = self._step(step, observations)
            step += 1
            self.step_count += 1
            if now - last_flush >= FLUSH_EVERY_S:
                self._flush()
                last_flush = now
            if done or (scene.max_steps is not None and step >= scene.max_steps):
                break
            next_tick += period
            if next_tick < time.monotonic() - 1.0:
                next_tick = time.monotonic()  # far behind (a stall): don't burst to catch up
            self._wait_until(next_tick)
        self._flush()

    def _actions(self, observations: Any) -> tuple[dict[Any, Any], list[tuple[Player, list]]]:
        actions: dict[Any, Any] = {}
        inputs = []
        with self.lock:
            now = time.monotonic()
            for player in self.players.values():
                self._maybe_give_up(player, now)
                if player.replaced:
                    continue
                actions[player.agent] = player.keys.action()
                inputs.append((player, player.pending_inputs))
                player.pending_inputs = []
        for agent, actor in self.actors.items():
            obs = observations[agent] if self.multi else observations
            actions[agent] = actor.act(obs)
        return actions, inputs

    def _maybe_give_up(self, player: Player, now: float) -> None:
        if player.left_at is None or player.replaced:
            return
        if now - player.left_at < self.scene.rejoin_timeout_s:
            return
        if self.scene.after_timeout == "end":
            self.stopped.set()
            self.manager.game_over(self, self.scene.end_message, ended_by=player.pid)
            return
        from mug_server_runtime.actors import Actor

        agent = player.agent
        space = action_space(self.env, agent)
        policy = self.scene.replacement_policy
        with self.files.importable():
            self.actors[agent] = Actor(policy, agent, space, self.seed + 997, self.namespace)
        player.replaced = True
        self._event(player, "replaced_by_ai", None)

    def _step(self, step: int, observations: Any) -> tuple[Any, bool]:
        actions, inputs = self._actions(observations)
        if self.multi:
            result = self.env.step(actions)
        else:
            (only,) = actions.values()
            result = self.env.step(only)
        observations, rewards, terminated, truncated, infos = result
        applied = time.monotonic()
        if self.multi:
            done = all(terminated.get(a) or truncated.get(a) for a in terminated) or not getattr(
                self.env, "agents", True
            )
        else:
            done = bool(terminated or truncated)
        self._record_step(step, actions, rewards, terminated, truncated, infos, observations)
        for player, pending in inputs:
            for received, client_t, key, down in pending:
                latency_ms = round((applied - received) * 1000, 3)
                self._event(player, "keydown" if down else "keyup", key, client_t, latency_ms)
        self._send(step)
        return observations, done

    def _render(self, player: Player) -> Any:
        render = self.env.render
        try:
            return render(player.agent) if self.multi else render()
        except TypeError:
            return render()

    def _send(self, step: int) -> None:
        frames = []
        extra = {"step": step, "episode": self.episode, "t": time.time() * 1000}
        with self.lock:
            for player in self.players.values():
                packet = self._render(player)
                data = player.frames.frame(packet, extra)
                if player.sid is not None:
                    frames.append((player.sid, player.frames.stream_id, data))
        self.manager.send_frames(frames)

    def _hud_only(self, extra: dict[str, Any]) -> None:
        with self.lock:
            targets = [p.sid for p in self.players.values() if p.sid is not None]
        self.manager.send_status(targets, {"scene_key": self.scene_key, **extra})

    # -- records --------------------------------------------------------------------------------

    def _base(self, player_pid: str) -> dict[str, Any]:
        return {
            "experiment_id": self.manager.experiment_id,
            "participant_id": player_pid,
            "scene_key": self.scene_key,
            "episode": self.episode,
        }

    def _record_step(self, step, actions, rewards, terminated, truncated, infos, observations):  # type: ignore[no-untyped-def]
        values = {
            "step": step,
            "t": time.time() * 1000,
            "actions": _jsonable({str(k): v for k, v in actions.items()}),
            "rewards": _jsonable(rewards),
            "terminated": _jsonable(terminated),
            "truncated": _jsonable(truncated),
            "infos": _jsonable(infos),
            "observations": _jsonable(observations) if self.scene.record_observations else None,
        }
        for pid in self.players:
            self._records.append(Record(kind="step", values=values, **self._base(pid)))

    def _event(
        self,
        player: Player,
        kind: str,
        key: str | None,
        client_t: float | None = None,
        latency_ms: float | None = None,
    ) -> None:
        values = {
            "t": client_t or time.time() * 1000,
            "type": kind,
            "key": key,
            "agent": str(player.agent),
            "server_t": time.time() * 1000,
            "input_latency_ms": latency_ms,
        }
        self._records.append(Record(kind="event", values=values, **self._base(player.pid)))

    def _flush(self) -> None:
        records, self._records = self._records, []
        if records:
            self.manager.commit(records)


def json_size(value: Any) -> int:
    """Bytes of ``value`` as compact JSON (for budgets and tests)."""
    return len(json.dumps(value, separators=(",", ":")))


Callback = Callable[..., Any]
__all__ = ["Player", "ServerGame", "asyncio"]
