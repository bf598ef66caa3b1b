"""A plugin the server benchmark loads into the study server: writes game timing on shutdown."""

from __future__ import annotations

import json
import os
import resource
from typing import Any

from mug_core.plugins import hookimpl

_GAMES: list[Any] = []


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
def mug_server_stop(server: Any) -> None:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    stats = {
        "lateness_ms": [late * 1000 for g in _GAMES for late in g.ticks_late[30:]],
        "steps": sum(g.step_count for g in _GAMES),
        "games": len(_GAMES),
        "bytes_sent": server.games.bytes_sent,
        "frames_sent": server.games.frames_sent,
        "cpu_s": usage.ru_utime + usage.ru_stime,
    }
    with open(os.environ["MUG_BENCH_STATS"], "w") as file:
        json.dump(stats, file)
