"""Frames on the wire: compact Surface deltas as JSON lines in a raw-deflate stream.

A game has one :class:`ViewStream` per distinct view (one for everyone, or one per agent when the
env draws a view per agent). Each tick the view's Surface packet is turned into a *delta* that
holds only the fields that changed (a polygon or line that moved sends the differences of its
points, in hundredths of a pixel, which deflate squeezes to a few bytes), written as one line of
compact UTF-8 JSON, and deflated once; the same bytes go to every viewer of that view. The
stream is flushed after every frame (``Z_SYNC_FLUSH``), so each frame can be decoded as soon as
it arrives. Lines are written by orjson, or by the standard library for the rare value orjson
refuses (an integer beyond 64 bits, a string with a lone surrogate).

A page that (re)joins starts a new stream of its view (every viewer of that view moves to it):
its first frame is a full delta (``c`` set) rebuilt from the view's current scene.

Line: ``{"step", "episode", "t", "delta"}``; ``delta`` fields (absent when empty):

- ``q``: the Surface packet's ``seq``; ``c``: ``[width, height]`` when the scene starts over;
- ``a``: assets to load; ``n``: objects in full (new ids, or ids whose fields changed shape);
- ``u``: ``[id, {field: value}]`` updates of existing objects; a ``dp`` field holds the
  differences of ``points`` in hundredths (``new = round(old * 100) + d) / 100``);
- ``r``: removed ids; ``z``: the complete paint order when it changed.

:func:`decode_stream` (and the page's ``server_runtime.js``) turn deltas back into ordinary
Surface packets.
"""

from __future__ import annotations

import json
import zlib
from base64 import b64decode, b64encode
from typing import Any

import orjson

from mug_core.rendering.packets import PACKET_VERSION

_orjson_dumps = orjson.dumps
_NEWLINE = orjson.OPT_APPEND_NEWLINE
_std_dumps = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode
_SYNC = zlib.Z_SYNC_FLUSH


def _line(value: dict[str, Any]) -> bytes:
    """``value`` as one line of compact JSON (UTF-8, ending in a newline)."""
    try:
        return _orjson_dumps(value, option=_NEWLINE)
    except TypeError:  # orjson.JSONEncodeError: an int beyond 64 bits, a lone surrogate
        return (_std_dumps(value) + "\n").encode()


def _point_differences(now: list[float], before: list[float]) -> list[int]:
    """``round(n * 100) - round(b * 100)`` for each pair of two equally long lists: Surface points
    are whole hundredths, so the difference of the two floats, scaled, rounds to that integer."""
    return [round((n - b) * 100.0) for n, b in zip(now, before, strict=False)]


class ViewStream:
    """One view of a game: its current scene (for late joiners) and its compressed frames."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.order: list[str] = []
        self.assets: dict[str, Any] = {}
        self.size: list[int] | None = None
        self.seq = 0
        self.stream_id = 0
        self.bytes_out = 0
        self._compressor = zlib.compressobj(1, zlib.DEFLATED, -12, 4)

    def restart(self) -> bytes:
        """Start a new stream (for a (re)joining page); returns its first frame: the whole
        current scene, or nothing before the first frame."""
        self.stream_id += 1
        self._compressor = zlib.compressobj(1, zlib.DEFLATED, -12, 4)
        if self.size is None:
            return b""
        delta: dict[str, Any] = {"q": self.seq, "c": self.size}
        if self.assets:
            delta["a"] = list(self.assets.values())
        delta["n"] = [self.objects[i] for i in self.order]
        delta["z"] = self.order
        return self._write(delta, {})

    def frame(self, packet: dict[str, Any], extra: dict[str, Any]) -> bytes:
        """Take the view's next Surface packet and return its compressed line (``extra``, e.g.
        step and episode, goes in the same line). Every packet of the view's Surface must pass
        through here, sent or not, so the view's scene stays whole."""
        return self._write(self.delta(packet), extra)

    def delta(self, packet: dict[str, Any]) -> dict[str, Any]:
        """Apply ``packet`` to the view's scene and return its compact delta."""
        objects = self.objects
        delta: dict[str, Any] = {"q": packet["seq"]}
        self.seq = packet["seq"]
        if packet["clear"]:
            objects.clear()
            self.size = [packet["width"], packet["height"]]
            delta["c"] = self.size
        if packet["assets"]:
            for asset in packet["assets"]:
                self.assets.setdefault(asset["name"], asset)
            delta["a"] = packet["assets"]
        removed = packet["removed"]
        if removed:
            for object_id in removed:
                objects.pop(object_id, None)
            delta["r"] = removed
        full: list[dict[str, Any]] = []
        updates: list[list[Any]] = []
        for obj in packet["objects"]:
            object_id = obj["id"]
            old = objects.get(object_id)
            objects[object_id] = obj
            if old is None or old.keys() != obj.keys() or old["type"] != obj["type"]:
                full.append(obj)
                continue
            changed = {field: value for field, value in obj.items() if old[field] != value}
            if changed:
                points = changed.get("points")
                if points is not None and len(points) == len(old["points"]):
                    del changed["points"]
                    changed["dp"] = _point_differences(points, old["points"])
                updates.append([object_id, changed])
        if full:
            delta["n"] = full
        if updates:
            delta["u"] = updates
        if packet["order"] is not None:
            self.order = packet["order"]
            delta["z"] = packet["order"]
        return delta

    def _write(self, delta: dict[str, Any], extra: dict[str, Any]) -> bytes:
        compressor = self._compressor
        data = compressor.compress(_line({**extra, "delta": delta})) + compressor.flush(_SYNC)
        self.bytes_out += len(data)
        return data


class DeltaDecoder:
    """Turns one stream's deltas back into Surface packets (what the page's decoder does)."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.size = [0, 0]

    def packet(self, delta: dict[str, Any]) -> dict[str, Any]:
        objects = self.objects
        clear = "c" in delta
        if clear:
            objects.clear()
            self.size = list(delta["c"])
        for object_id in delta.get("r", ()):
            objects.pop(object_id, None)
        out = []
        for obj in delta.get("n", ()):
            objects[obj["id"]] = obj
            out.append(obj)
        for object_id, changed in delta.get("u", ()):
            obj = dict(objects[object_id])
            for field, value in changed.items():
                if field == "dp":
                    pairs = zip(obj["points"], value, strict=True)
                    obj["points"] = [(round(a * 100) + d) / 100 for a, d in pairs]
                else:
                    obj[field] = value
            objects[object_id] = obj
            out.append(obj)
        return {
            "version": PACKET_VERSION,
            "seq": delta["q"],
            "clear": clear,
            "width": self.size[0],
            "height": self.size[1],
            "assets": delta.get("a", []),
            "objects": out,
            "removed": delta.get("r", []),
            "order": delta.get("z"),
        }


def frame_event(stream: int, data: bytes) -> str:
    """The Socket.IO text packet of a ``game_frame`` event ``{stream, data}`` (``data`` in
    base64): one websocket message, built once and sent as is to every viewer."""
    return f'2["game_frame",{{"stream":{stream},"data":"{b64encode(data).decode()}"}}]'


def decode_stream(chunks: list[bytes | str]) -> list[dict[str, Any]]:
    """What a page decodes from one stream's chunks (``game_frame`` ``data``, base64 text or
    bytes): ``{step, episode, t, packet}`` per frame (for tests and tools)."""
    inflater = zlib.decompressobj(-15)
    decoder = DeltaDecoder()
    raw = [chunk if isinstance(chunk, bytes) else b64decode(chunk) for chunk in chunks]
    text = "".join(inflater.decompress(chunk).decode() for chunk in raw)
    frames = []
    for line in text.splitlines():
        if line:
            frame = json.loads(line)
            frame["packet"] = decoder.packet(frame.pop("delta"))
            frames.append(frame)
    return frames
