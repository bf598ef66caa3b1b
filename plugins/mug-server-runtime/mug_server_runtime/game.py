"""One game on the server: a state machine that its game process's scheduler steps at a fixed
rate.

The game never sleeps "one frame" after doing its work: each step is due on a schedule against
a monotonic clock, so a game at 30 fps does 30 steps a second without drifting. Frames go to the
event loop with the frames of other games due at the same moment; step records are committed to
the study's store about once a second.
"""

from __future__ import annotations

import inspect
import logging
import math
import time
from collections import deque
from typing import TYPE_CHECKING, Any, NamedTuple

from mug_core.data.records import Record
from mug_core.scenes.gym_scene import GymScene
from mug_server_runtime.actors import Actor, KeyState, action_space, build_actors
from mug_server_runtime.encoding import ViewStream, frame_event
from mug_server_runtime.envload import EnvFiles

if TYPE_CHECKING:
    from mug_server_runtime.worker import WorkerLink as GameManager

log = logging.getLogger(__name__)

FLUSH_EVERY_S = 1.0
#: Seconds of steps whose frame hand-over times are kept for the pages' frame acknowledgements;
#: an acknowledgement of an older step is ignored.
FRAME_ACK_WINDOW_S = 5.0


_PLAIN = frozenset((int, str, bool, type(None)))


def _jsonable(value: Any) -> Any:
    """``value`` with numpy arrays and scalars as lists and numbers, tuples as lists, dict keys
    as strings and NaN as ``None``."""
    kind = type(value)
    if kind is float:
        return None if value != value else value
    if kind in _PLAIN:
        return value
    if kind is list or kind is tuple:
        if all(type(v) is float and v == v for v in value):
            return list(value)  # a copy: the env may change its list in place later
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if hasattr(value, "tolist"):
        return _jsonable(value.tolist())
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and value != value:
        return None
    return value


class Player:
    """A participant in the game: their agent, keys, view and connection."""

    def __init__(self, pid: str, agent: Any, scene: GymScene, view: Any) -> None:
        self.pid = pid
        self.agent = agent
        self.view = view  # key of the ViewStream this player sees
        self.keys = KeyState(scene)
        self.sid: str | None = None
        self.left_at: float | None = None
        self.replaced = False
        self.pending_inputs: list[tuple[float, float, str, bool]] = []
        self.acked: tuple[int, int] = (-1, -1)  # (episode, step) of the last frame acknowledged


def _renders_per_agent(env: Any) -> bool:
    """Whether ``env.render`` takes an argument (the agent whose view to draw)."""
    try:
        parameters = inspect.signature(env.render).parameters.values()
    except (TypeError, ValueError):
        return False
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return any(p.kind in kinds or p.kind == inspect.Parameter.VAR_POSITIONAL for p in parameters)


class BuiltEnv(NamedTuple):
    """A game's env as its scene's files build it (see :func:`build_env`)."""

    namespace: dict[str, Any]  # the env file's globals
    env: Any
    multi: bool  # a PettingZoo ParallelEnv (per-agent spaces), not a Gymnasium env
    actors: dict[Any, Actor]  # the AI agents' policies


def build_env(scene: GymScene, files: EnvFiles, seed: int) -> BuiltEnv:
    """Run ``scene``'s env file from ``files`` and load its AI policies, as every game of the
    scene begins (and the start-up check, :mod:`mug_server_runtime.checks`)."""
    with files.importable():
        namespace = files.namespace()
        env = namespace["env"]
        multi = callable(getattr(env, "action_space", None))
        actors = build_actors(scene, env, seed, namespace)
    return BuiltEnv(namespace, env, multi, actors)


class ServerGame:
    """A running game, stepped by the scheduler of a worker process
    (:mod:`mug_server_runtime.worker`), which is its ``manager``.

    Entry points for the study server's messages: :meth:`attach`, :meth:`detach`, :meth:`key`,
    :meth:`frame_ack`, :meth:`start`, :meth:`stop`; they run on the same thread as the steps.
    The env draws one view for everybody, or one per agent when its ``render`` takes the agent
    (then each player gets their own agent's view); each view is rendered and encoded once per
    tick, and its bytes go to all of its players.
    """

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
        self.stopped = False
        # seconds each of the last ten minutes' steps ran after its due time (for benchmarks)
        self.ticks_late: deque[float] = deque(maxlen=max(1, math.ceil(scene.fps * 600)))
        self.step_count = 0
        self.first_tick = self._last_tick = 0.0  # monotonic time of the first and last steps
        self.files = EnvFiles.for_scene(scene)
        self.namespace, self.env, self.multi, self.actors = build_env(scene, self.files, seed)
        per_agent = self.multi and _renders_per_agent(self.env)
        self.players = {
            pid: Player(pid, agent, scene, agent if per_agent else None)
            for pid, agent in members.items()
        }
        self.views = {player.view: ViewStream() for player in self.players.values()}
        self._records: list[Record] = []
        # the schedule
        self._phase = "countdown"
        self._phase_start = 0.0
        self._countdown_left = 0
        self._next_tick = 0.0
        self._last_flush = 0.0
        self._step = 0
        self._observations: Any = None
        self._period = 1.0 / scene.fps
        # when each recent step's frames were handed over for sending (monotonic), oldest first
        window = max(1, math.ceil(scene.fps * FRAME_ACK_WINDOW_S))
        self._sent: deque[float] = deque(maxlen=window)
        self._sent_step = -1  # the step of the newest entry of _sent
        self._sent_episode = -1  # the episode the steps of _sent belong to

    # -- entry points ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start playing (once every player is attached)."""
        self.manager.schedule(self)

    def attach(self, pid: str, sid: str) -> None:
        """(Re)connect a player's page; their view starts a new stream, which begins with the
        whole current scene."""
        player = self.players[pid]
        player.sid = sid
        player.left_at = None
        view = self.views[player.view]
        first = view.restart()
        stream = view.stream_id
        viewers = [p.sid for p in self.players.values() if p.view == player.view and p.sid]
        if first:
            event = frame_event(stream, first)
            self.manager.send_frames([(viewer, event, len(first)) for viewer in viewers])

    def detach(self, pid: str) -> None:
        """A player's page closed: their agent plays the default action for now."""
        player = self.players.get(pid)
        if player is not None and player.sid is not None:
            player.sid = None
            player.left_at = time.monotonic()
            player.keys.release_all()
            self._event(player, "disconnected")

    def key(
        self, pid: str, key: str, down: bool, client_t: float | None, received: float | None = None
    ) -> None:
        """A key went down or up in a player's page (``received``: when the study server got
        it, on the monotonic clock; now by default)."""
        player = self.players.get(pid)
        if player is None:
            return
        player.keys.key(key, down)
        when = received or time.monotonic()
        player.pending_inputs.append((when, client_t or 0.0, key, down))

    def frame_ack(
        self, pid: str, step: int, episode: int, client_t: float, draw_ms: float, received: float
    ) -> None:
        """A player's page drew the frame of ``step`` (``draw_ms`` after its message arrived, at
        ``client_t`` on the page's clock) and said so; the study server got the acknowledgement
        at ``received`` (monotonic). Records a ``frame_delivery`` event with the time from the
        frame's hand-over to that acknowledgement. An acknowledgement of another episode, of a
        step not sent or sent too long ago, or of a step at or before the player's last one
        acknowledged is ignored."""
        player = self.players.get(pid)
        if player is None or episode != self.episode or episode != self._sent_episode:
            return
        if (episode, step) <= player.acked:
            return
        back = self._sent_step - step  # how many steps before the newest one
        if not 0 <= back < len(self._sent):
            return
        player.acked = (episode, step)
        rtt_ms = round((received - self._sent[-1 - back]) * 1000, 3)
        self._event(
            player,
            "frame_delivery",
            t=client_t,
            step=step,
            frame_rtt_ms=rtt_ms,
            draw_ms=round(draw_ms, 3),
        )

    def stop(self) -> None:
        self.stopped = True

    # -- the schedule ---------------------------------------------------------------------------

    @property
    def period(self) -> float:
        """Seconds between steps."""
        return self._period

    def advance(self, now: float, due: float | None = None) -> float | None:
        """Do what is due at ``due`` (a countdown second, or one step), running at ``now``;
        return when this game is next due, or ``None`` when it is over. A crashing env ends
        this game only."""
        try:
            if self.stopped:
                self.flush()
                return None
            if self._phase == "countdown":
                return self._count(now if due is None else due, now)
            return self._tick(now)
        except Exception as exc:
            log.exception("game %s (%s) crashed", self.game_id, self.scene_key)
            self.stopped = True
            self.flush()
            self.manager.game_over(self, f"The game stopped because of an error: {exc}")
            return None

    def _count(self, due: float, now: float) -> float | None:
        if self._countdown_left == 0 and self._phase_start == 0.0:
            if self.episode >= self.scene.num_episodes:
                self.manager.game_over(self, None)
                return None
            self._phase_start = due
            self._countdown_left = self.scene.countdown_s
        if self._countdown_left > 0:
            self._hud_only({"countdown": self._countdown_left, "episode": self.episode})
            self._countdown_left -= 1
            return self._phase_start + (self.scene.countdown_s - self._countdown_left)
        self._begin_episode(self._phase_start + self.scene.countdown_s)
        return self._tick(now)

    def _begin_episode(self, now: float) -> None:
        reset = self.env.reset(seed=self.seed + self.episode)
        self._observations = reset[0] if isinstance(reset, tuple) else reset
        for actor in self.actors.values():
            actor.reset()
        self._phase = "play"
        self._step = 0
        self._sent.clear()
        self._sent_step = -1
        self._sent_episode = self.episode
        self._next_tick = now
        self._last_flush = now

    def achieved_fps(self) -> float:
        """Steps per second from the first step to the last one so far."""
        span = self._last_tick - self.first_tick
        return (self.step_count - 1) / span if span > 0 else 0.0

    def _tick(self, now: float) -> float | None:
        self.ticks_late.append(now - self._next_tick)
        if not self.first_tick:
            self.first_tick = now
        self._last_tick = now
        self._observations, done = self._step_env(self._step, self._observations)
        self._step += 1
        self.step_count += 1
        if now - self._last_flush >= FLUSH_EVERY_S:
            self.flush()
            self._last_flush = now
        max_steps = self.scene.max_steps
        if done or (max_steps is not None and self._step >= max_steps) or self.stopped:
            self.flush()
            if self.stopped:
                return None
            self.episode += 1
            self.manager.episode_done(self, self.episode)
            self._phase = "countdown"
            self._phase_start = 0.0
            self._countdown_left = 0
            return self._count(self._next_tick + self._period, time.monotonic())
        self._next_tick += self._period
        if self._next_tick < now - 1.0:
            self._next_tick = now  # far behind (a stall): don't burst to catch up
        return self._next_tick

    def _actions(self, observations: Any) -> tuple[dict[Any, Any], list[tuple[Player, list]]]:
        actions: dict[Any, Any] = {}
        inputs = []
        now = time.monotonic()
        for player in self.players.values():
            self._maybe_give_up(player, now)
            if player.replaced:
                continue
            actions[player.agent] = player.keys.action()
            if player.pending_inputs:
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
            self.stopped = True
            self.manager.game_over(self, self.scene.end_message, ended_by=player.pid)
            return
        from mug_server_runtime.actors import Actor

        agent = player.agent
        space = action_space(self.env, agent)
        policy = self.scene.replacement_policy
        with self.files.importable():
            self.actors[agent] = Actor(policy, agent, space, self.seed + 997, self.namespace)
        player.replaced = True
        self._event(player, "replaced_by_ai")

    def _step_env(self, step: int, observations: Any) -> tuple[Any, bool]:
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
                kind = "keydown" if down else "keyup"
                self._event(player, kind, key, t=client_t, latency_ms=latency_ms, step=step)
        self._send(step)
        return observations, done

    def _render(self, view: Any) -> Any:
        return self.env.render(view) if view is not None else self.env.render()

    def _send(self, step: int) -> None:
        frames = []
        extra = {"step": step, "episode": self.episode, "t": int(time.time() * 1000)}
        for key, view in self.views.items():
            data = view.frame(self._render(key), extra)
            event = None
            for player in self.players.values():
                if player.view == key and player.sid is not None:
                    event = event or frame_event(view.stream_id, data)
                    frames.append((player.sid, event, len(data)))
        self._sent.append(time.monotonic())
        self._sent_step = step
        self.manager.send_frames(frames)

    def _hud_only(self, extra: dict[str, Any]) -> None:
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
        key: str | None = None,
        *,
        t: float | None = None,
        latency_ms: float | None = None,
        step: int | None = None,
        frame_rtt_ms: float | None = None,
        draw_ms: float | None = None,
    ) -> None:
        """Queue an event row of ``player``. Every row has the same columns (``None`` where one
        does not apply), so an episode's events file keeps the header of its first row."""
        server_t = time.time() * 1000
        values = {
            "t": t or server_t,
            "type": kind,
            "key": key,
            "agent": str(player.agent),
            "server_t": server_t,
            "input_latency_ms": latency_ms,
            "step": step,
            "frame_rtt_ms": frame_rtt_ms,
            "draw_ms": draw_ms,
        }
        self._records.append(Record(kind="event", values=values, **self._base(player.pid)))

    def flush(self) -> None:
        """Hand the records not yet committed to the study server."""
        records, self._records = self._records, []
        if records:
            self.manager.commit(records)


__all__ = ["Player", "ServerGame"]
