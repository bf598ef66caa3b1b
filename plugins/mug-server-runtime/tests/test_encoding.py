"""Frame deltas rebuild exactly the scene the Surface's own packets describe."""

from __future__ import annotations

import json
import random
import zlib
from typing import Any

from mug_server_runtime.encoding import ViewStream, decode_stream

from mug_core.rendering import Surface, apply_packet


def _scene(frames: list[dict[str, Any]]) -> Any:
    scene = None
    for frame in frames:
        scene = apply_packet(scene, frame["packet"])
    return scene


def _draw(surface: Surface, rng: random.Random, frame: int) -> None:
    for i in range(rng.randrange(1, 5)):
        corners = rng.choice([3, 3, 4])  # sometimes a polygon changes its number of points
        points = [(rng.uniform(-50, 250), rng.uniform(0, 100)) for _ in range(corners)]
        surface.polygon(points, color="red", id=f"shape{i}")
    surface.circle(rng.uniform(0, 200), 50.5, 3, id="ball")
    if rng.random() < 0.5:
        surface.text(str(frame), 1, 2, id="label")


def test_a_stream_and_a_restarted_stream_rebuild_the_surface_scene() -> None:
    rng = random.Random(5)
    surface = Surface(200, 100)
    view = ViewStream()
    reference: Any = None
    first: list[bytes] = []
    second: list[bytes] = []
    middle: Any = None
    for frame in range(300):
        if frame % 97 == 0:
            surface.reset()
        _draw(surface, rng, frame)
        packet = surface.commit()
        reference = apply_packet(reference, packet)
        (second if middle is not None else first).append(view.frame(packet, {"step": frame}))
        if frame == 150:
            middle = {k: (dict(v) if isinstance(v, dict) else v) for k, v in reference.items()}
            middle["order"] = list(reference["order"])
            second.append(view.restart())  # a page joins late: a new stream, whole scene first

    frames = decode_stream(first)
    assert [f["step"] for f in frames] == list(range(151))
    rebuilt = _scene(frames)
    assert rebuilt["objects"] == middle["objects"] and rebuilt["order"] == middle["order"]
    late = decode_stream(second)
    assert late[0]["packet"]["clear"]
    rebuilt = _scene(late)
    assert rebuilt["objects"] == reference["objects"]
    assert rebuilt["order"] == reference["order"]


def test_moving_shapes_cost_a_few_bytes_per_frame() -> None:
    surface = Surface(600, 300)
    view = ViewStream()
    sizes = []
    for frame in range(120):
        x = 100 + frame * 1.37
        points = [(x + 30 * (i % 7), 200 - 20 * (i // 7)) for i in range(21)]
        surface.polygon(points, color="#e8553a", id="slime")
        surface.circle(300 + frame * 0.5, 100, 6, color="#ffcf33", id="ball")
        sizes.append(len(view.frame(surface.commit(), {"step": frame, "episode": 0})))
    assert sum(sizes[20:]) / len(sizes[20:]) < 60  # bytes per frame once the stream is warm


def _refuse(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


def test_frames_are_json_lines_that_decode_to_the_values_sent() -> None:
    surface = Surface(200, 100)
    view = ViewStream()
    texts = ["plain", "ünïcödé ✓ 🏐", "lone \ud800 surrogate", 'quote " and \\ backslash']
    chunks = []
    for frame, text in enumerate(texts):
        surface.text(text, 1.25, 2, id="label")
        surface.circle(10 + frame / 3, 0.5, 0.25, id="dot")
        chunks.append(view.frame(surface.commit(), {"step": frame, "t": 2**70 if frame else 0}))

    lines = zlib.decompressobj(-15).decompress(b"".join(chunks)).split(b"\n")
    assert lines[-1] == b"" and len(lines) == len(texts) + 1
    for line in lines[:-1]:
        json.loads(line, parse_constant=_refuse)  # strict JSON, as the page's JSON.parse reads
    frames = decode_stream(chunks)
    assert [f["t"] for f in frames] == [0, 2**70, 2**70, 2**70]
    labels = [next(o for o in f["packet"]["objects"] if o["id"] == "label") for f in frames]
    assert [o["text"] for o in labels] == texts
    assert _scene(frames)["objects"]["dot"] == surface.snapshot()["objects"][1]
