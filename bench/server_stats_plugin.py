"""A plugin the server benchmark loads into the study server: writes game timing on shutdown
(the benchmark measures CPU itself, from ``/proc``)."""

from __future__ import annotations

import json
import os
from typing import Any

from mug_core.plugins import hookimpl

_GAMES: list[Any] = []


def _steady_lateness_ms(games: list[Any], fps: float = 30.0) -> list[float]:
    """Lateness of the steps due once every game had been running for a second (building
    and starting games is not the steady state being measured)."""
    started = [g.first_tick for g in games if g.first_tick]
    if not started:
        return []
    steady = max(started) + 1.0
    late = [
        value * 1000
        for g in games
        for i, value in enumerate(g.ticks_late)
        if g.first_tick + i / fps >= steady
    ]
    return late or [value * 1000 for g in games for value in g.ticks_late[30:]]


@hookimpl(trylast=True)
def mug_server_start(server: Any) -> None:
    manager = server.games
    original = manager.on_join

    async def on_join(sid: str, data: Any = None) -> Any:
        answer = await original(sid, data)
        game = manager.games.get(answer.get("game_id", "")) if isinstance(answer, dict) else None
        if game is not None and game not in _GAMES:
            _GAMES.append(game)
        return answer

    manager.on_join = on_join
    server.sio.handlers["/"]["game_join"] = on_join


@hookimpl(tryfirst=True)
async def mug_server_stop(server: Any) -> None:
    workers = list(server.games.workers)
    loop_priority = server.games.loop_priority
    realtime_loop = bool(loop_priority and loop_priority.realtime)
    await server.games.stop()  # fills in each game's timing; game processes have exited
    stats = {
        "lateness_ms": _steady_lateness_ms(_GAMES),
        "steps": sum(g.step_count for g in _GAMES),
        "fps": [g.achieved_fps() for g in _GAMES if g.step_count > 30],
        "games": len(_GAMES),
        "bytes_sent": server.games.bytes_sent,
        "frames_sent": server.games.frames_sent,
        "processes": len(workers),
        "realtime_processes": sum(1 for w in workers if w.realtime),
        "realtime_loop": realtime_loop,
    }
    with open(os.environ["MUG_BENCH_STATS"], "w") as file:
        json.dump(stats, file)
