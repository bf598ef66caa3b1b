"""The Python side of a peer-to-peer game: one rollback session around the browser runtime's env.

Runs in the worker's Pyodide (next to mug-pyodide's ``runner.py``, imported as ``mug_runner``)
and in plain CPython (tests, ``bench/rollback.py``). Each participant's page builds a
:class:`P2PGame` around its own ``mug_runner.Runner``; the worker calls :meth:`P2PGame.tick`
once per frame with the local player's action and the messages that arrived, and gets back one
JSON string: messages to send, the frames that became confirmed (the records), the latest
frame to draw, and the session's events.

What every peer computes identically
    Player handle ``h`` is the ``h``-th human agent of the policy mapping; its peer is the
    participant the waiting room gave that agent. AI agents act inside the step, from the
    simulation's own state: ``random`` policies draw from a generator seeded by (seed, episode,
    step), so a re-simulated frame draws the same action; heuristics see the same observation.
    A departed player's input is the default action, or, with ``replacement``, the action of
    that policy (also computed inside the step). The state saved for rollback is the env's
    ``get_state()`` plus the runner's own counters (step, returns, last actions, observations).

Records
    Only confirmed frames produce records, so every peer's step records are equal, byte for
    byte: ``t`` is the frame's game time in milliseconds from the episode's start
    (``step * 1000 / fps``), not a wall clock.
"""

from __future__ import annotations

import importlib.util
import json
import random
import sys
import time
from collections.abc import Mapping
from typing import Any

from mug_p2p.rollback import (
    AdvanceFrame,
    ConfirmedStepBuffer,
    DesyncDetected,
    DisconnectFrameAgreed,
    DroppedByPeer,
    InputStatus,
    LoadState,
    MalformedMessage,
    P2PSession,
    PeerConnected,
    PeerDisconnected,
    Request,
    SaveState,
    SessionResumed,
    SessionStalled,
    Stalled,
    WaitRecommended,
)


def _runner_module() -> Any:
    """mug-pyodide's ``runner.py``: ``mug_runner`` in the worker, the installed file elsewhere."""
    try:
        import mug_runner  # type: ignore[import-not-found]
    except ImportError:
        pass
    else:
        return mug_runner
    from mug_pyodide.plugin import RUNNER_PATH  # CPython: tests and benchmarks

    spec = importlib.util.spec_from_file_location("mug_runner", RUNNER_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["mug_runner"] = module
    spec.loader.exec_module(module)
    return module


mug_runner = _runner_module()
to_json = mug_runner.to_json

SEED_STRIDE = 1_000_003
STATS_EVERY = 30
"""Ticks between two ``stats`` entries in :meth:`P2PGame.tick`'s result."""


class FrameRandomPolicy:
    """Uniform random actions drawn from (seed, episode, step) alone.

    Unlike a generator that advances with every draw, it gives the same action when a rollback
    re-simulates a step, and the same on every peer.
    """

    def __init__(self, runner: Any, space: Any, seed: int) -> None:
        n = getattr(space, "n", None)
        if n is None:
            raise mug_runner.RunnerError(
                f"peer-to-peer random policies need a discrete action space (with n), got {space!r}"
            )
        self.runner = runner
        self.n = int(n)
        self.start = int(getattr(space, "start", 0))
        self.seed = int(seed)

    def reset(self, episode: int) -> None:
        """Nothing to reset: every draw depends only on the seed, episode and step."""

    def act(self, observation: Any) -> int:
        key = (self.seed * SEED_STRIDE + self.runner.episode) * SEED_STRIDE
        rng = random.Random(key + self.runner.step_count)
        return self.start + rng.randrange(self.n)


def _no_frame() -> None:
    return None


class P2PGame:
    """One participant's side of a peer-to-peer game scene.

    Args:
        runner: the scene's ``mug_runner.Runner`` (built from the scene spec as usual).
        members: ``{participant_id: agent_id}`` of the group (from the waiting room).
        local_peer: this page's participant id.
        game_id: the group's game id; each episode's session is tagged with it.
        fps: the scene's frame rate (records' ``t`` is ``step * 1000 / fps``).
        input_delay, max_prediction, checksum_interval: the rollback session's options.
        replacement: the policy spec that plays a departed participant's agent (``random`` or
            ``heuristic``), or None for the default action.
    """

    def __init__(
        self,
        runner: Any,
        *,
        members: Mapping[str, Any],
        local_peer: str,
        game_id: str,
        fps: int,
        input_delay: int = 2,
        max_prediction: int = 8,
        checksum_interval: int = 30,
        replacement: Mapping[str, Any] | None = None,
    ) -> None:
        self.runner = runner
        missing_methods = [m for m in ("get_state", "set_state") if not hasattr(runner.env, m)]
        if missing_methods:
            raise mug_runner.RunnerError(
                f"the env of {runner.namespace['__file__']} has no "
                f"{' or '.join(f'{m}()' for m in missing_methods)}: peer-to-peer play saves and "
                "restores its state with get_state()/set_state(state)"
            )
        owner = {str(agent): str(peer) for peer, agent in members.items()}
        missing = [key for key in runner.humans if key not in owner]
        if missing or len(owner) != len(runner.humans):
            raise mug_runner.RunnerError(
                f"the group {dict(members)} does not cover the human agents {runner.humans}"
            )
        if str(local_peer) not in owner.values():
            raise mug_runner.RunnerError(f"participant {local_peer!r} is not in the group")
        self.handles: list[str] = list(runner.humans)
        self.players = [owner[key] for key in self.handles]
        self.local_peer = str(local_peer)
        # Each page draws its own player's view (a multi-view env's render(agent_id)): the
        # runner draws the view of its only "human".
        runner.humans = [
            k for k, p in zip(self.handles, self.players, strict=True) if p == local_peer
        ]
        self.game_id = str(game_id)
        self.fps = int(fps)
        self.options = {
            "input_delay": int(input_delay),
            "max_prediction": int(max_prediction),
            "checksum_interval": int(checksum_interval),
        }
        for key, spec in runner.policy_specs.items():
            if spec.get("type") == "random":
                space = runner._action_space(runner.by_key[key])
                runner.policies[key] = FrameRandomPolicy(runner, space, int(spec.get("seed", 0)))
        self.replacements = {
            key: self._replacement(key, handle, replacement)
            for handle, key in enumerate(self.handles)
        }
        # Frames are drawn once per tick, after every request: never while re-simulating.
        self._draw = runner._render
        runner._render = _no_frame
        self.session: P2PSession | None = None
        self.buffer = ConfirmedStepBuffer()
        self.ended = False
        self.skip = 0
        self.ticks = 0
        self.rejected = 0
        self.stall_ticks = 0

    def _replacement(self, key: str, handle: int, spec: Mapping[str, Any] | None) -> Any:
        if not spec:
            return None
        kind = spec.get("type")
        runner = self.runner
        if kind == "random":
            space = runner._action_space(runner.by_key[key])
            return FrameRandomPolicy(runner, space, int(spec.get("seed", 0)) + handle + 1)
        if kind == "heuristic":
            target = mug_runner._resolve_reference(
                str(spec.get("reference")), runner.namespace, runner.namespace["__file__"][:-3]
            )
            return mug_runner._HeuristicPolicy(target, spec.get("kwargs") or {}, runner.by_key[key])
        return None

    @property
    def local_handles(self) -> tuple[int, ...]:
        return tuple(h for h, peer in enumerate(self.players) if peer == self.local_peer)

    # -- the Game protocol of the rollback engine -----------------------------------------------
    def get_state(self) -> dict[str, Any]:
        """The env's snapshot and the runner's counters (everything a step depends on)."""
        r = self.runner
        return {
            "env": r.env.get_state(),
            "step": r.step_count,
            "done": r.done,
            "returns": dict(r.returns),
            "last": dict(r.last_actions),
            "obs": dict(r.observations_now),
        }

    def set_state(self, state: Mapping[str, Any]) -> None:
        r = self.runner
        r.env.set_state(state["env"])
        r.step_count = state["step"]
        r.done = state["done"]
        r.returns = dict(state["returns"])
        r.last_actions = dict(state["last"])
        r.observations_now = dict(state["obs"])

    def step(self, inputs: tuple[tuple[Any, InputStatus], ...]) -> str | None:
        """One frame with each handle's input; None once the episode is over (no step)."""
        r = self.runner
        if r.done:
            return None
        actions: dict[str, Any] = {}
        for key, (value, status) in zip(self.handles, inputs, strict=True):
            policy = self.replacements[key]
            if status is InputStatus.DISCONNECTED and policy is not None:
                value = policy.act(r.observations_now.get(key))
            actions[key] = value
        return r.step(to_json(actions))

    # -- episodes --------------------------------------------------------------------------------
    def reset(self, episode: int) -> str:
        """Start ``episode`` with a new session; returns the runner's reset JSON (first frame)."""
        r = self.runner
        r._render = self._draw
        try:
            first = r.reset(episode)
        finally:
            r._render = _no_frame
        self.session = P2PSession(
            self.players,
            self.local_peer,
            session_id=f"{self.game_id}/{int(episode)}",
            default_input=r.default_action,
            **self.options,
        )
        self.buffer = ConfirmedStepBuffer()
        self.ended = False
        self.skip = 0
        self.ticks = 0
        self.rejected = 0
        self.stall_ticks = 0
        return first

    def disconnect(self, peer: str) -> None:
        """Stop waiting for ``peer``: its players' inputs become the default (or replacement)."""
        if self.session is not None and peer in self.session.remote_peers:
            self.session.disconnect_peer(peer)

    def tick(self, action_json: str | None, inbox_json: str | None) -> str:
        """One frame: feed ``inbox_json`` (``[[peer, text], ...]``), add the local action
        (JSON; null: no input), advance or wait, fulfil the requests.

        Returns JSON ``{ended, frame, confirmed, stalled, records, packet, out, events,
        ms, stats?}``: ``records`` are ``[record, meta]`` pairs of newly confirmed steps
        (``meta``: ``{done, returns}``), ``out`` the ``[peer, text]`` messages to send,
        ``packet`` the latest frame (null when nothing changed), ``ms`` the time spent in
        Python.
        """
        began = time.perf_counter()
        session = self.session
        if session is None:
            raise RuntimeError("call reset(episode) before tick()")
        for peer, text in json.loads(inbox_json) if inbox_json else ():
            try:
                session.handle_message(peer, text)
            except MalformedMessage:
                self.rejected += 1  # another episode's session, or a bad message: dropped
        events = self._events(session.drain_events())
        stalled = False
        requests: list[Request]
        if self.ended or self.runner.done or self.skip:
            self.skip = max(0, self.skip - 1)
            requests = session.settle()
        else:
            action = json.loads(action_json) if action_json else None
            for handle in session.local_handles:
                session.add_local_input(handle, action)
            result = session.advance_frame()
            if isinstance(result, Stalled):
                stalled = True
                self.stall_ticks += 1
                requests = []
            else:
                requests = result
        changed = self._fulfil(requests)
        records = self._confirmed()
        events += self._events(session.drain_events())
        out = [[peer, data.decode()] for peer, data in session.drain_outgoing()]
        self.ticks += 1
        # "ended" first: the worker checks the string's start instead of parsing it.
        result_out: dict[str, Any] = {
            "ended": self.ended,
            "frame": session.current_frame,
            "confirmed": session.confirmed_frame,
            "stalled": stalled,
            "records": records,
            "packet": self._draw() if changed else None,
            "out": out,
            "events": events,
        }
        if self.ticks % STATS_EVERY == 0 or self.ended:
            result_out["stats"] = self.stats()
        result_out["ms"] = round((time.perf_counter() - began) * 1000, 3)
        return to_json(result_out)

    def stats(self) -> dict[str, Any]:
        """The session's counters (rollbacks, depth, stalls, messages, checksums, desyncs)."""
        assert self.session is not None
        s = self.session.stats()
        return {
            "frames": s.frames_advanced,
            "rollbacks": s.rollbacks,
            "max_rollback_depth": s.max_rollback_depth,
            "resimulated_frames": s.resimulated_frames,
            "stalled_ticks": s.stalled_ticks,
            "messages_sent": s.messages_sent,
            "messages_received": s.messages_received,
            "messages_rejected": s.messages_rejected,
            "checksums_compared": s.checksums_compared,
            "desyncs": s.desyncs,
            "input_delay": self.session.input_delay,
            "frames_ahead": round(self.session.frames_ahead(), 2),
        }

    # -- helpers ---------------------------------------------------------------------------------
    def _fulfil(self, requests: list[Request]) -> bool:
        for request in requests:
            if isinstance(request, SaveState):
                request.save(self.get_state())
            elif isinstance(request, LoadState):
                self.set_state(request.load())
            elif isinstance(request, AdvanceFrame):
                self.buffer.stepped([(request.frame, self.step(request.inputs))])
        return any(not isinstance(r, SaveState) for r in requests)

    def _confirmed(self) -> list[list[dict[str, Any]]]:
        assert self.session is not None
        records = []
        for _, result in self.buffer.confirm(self.session.drain_confirmed_frames()):
            if self.ended or result is None:
                continue
            out = json.loads(result)
            record = {
                "step": out["step"],
                "t": out["step"] * 1000 / self.fps,
                "actions": out["actions"],
                "rewards": out["rewards"],
                "terminated": out["terminated"],
                "truncated": out["truncated"],
                "infos": out["infos"],
            }
            if "observations" in out:
                record["observations"] = out["observations"]
            records.append([record, {"done": out["done"], "returns": out["returns"]}])
            if out["done"]:
                self.ended = True
        return records

    def _events(self, events: list[Any]) -> list[dict[str, Any]]:
        out = []
        for event in events:
            if isinstance(event, WaitRecommended):
                self.skip += event.frames
            elif isinstance(event, DesyncDetected):
                out.append(
                    {
                        "type": "desync",
                        "frame": event.frame,
                        "local_checksum": event.local_checksum,
                        "remote_checksum": event.remote_checksum,
                        "peer": str(event.peer),
                    }
                )
            elif isinstance(event, SessionStalled):
                out.append({"type": "stalled", "frame": event.frame})
            elif isinstance(event, SessionResumed):
                out.append({"type": "resumed", "frame": event.frame, "ticks": event.stalled_ticks})
            elif isinstance(event, PeerConnected):
                out.append({"type": "peer_connected", "peer": str(event.peer)})
            elif isinstance(event, PeerDisconnected):
                out.append({"type": "peer_disconnected", "peer": str(event.peer)})
            elif isinstance(event, DisconnectFrameAgreed):
                out.append(
                    {"type": "disconnect_frame", "handle": event.handle, "frame": event.frame}
                )
            elif isinstance(event, DroppedByPeer):
                out.append(
                    {"type": "dropped_by_peer", "peer": str(event.peer), "frame": event.frame}
                )
        return out


def create(runner: Any, options_json: str) -> P2PGame:
    """Build a :class:`P2PGame` from JSON keyword arguments (how the worker calls it)."""
    return P2PGame(runner, **json.loads(options_json))


__all__ = ["FrameRandomPolicy", "P2PGame", "create"]
