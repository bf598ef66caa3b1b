"""Unit tests for mug_core.rendering: Surface draw calls, colours, deltas and packets."""

from __future__ import annotations

import ast
import json
import random
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from mug_core.rendering import (
    CSS_COLORS,
    PACKET_VERSION,
    Surface,
    apply_packet,
    parse_color,
)

RENDERING_DIR = Path(__file__).resolve().parents[2] / "mug_core" / "rendering"
PACKET_KEYS = {
    "version",
    "seq",
    "clear",
    "width",
    "height",
    "assets",
    "objects",
    "removed",
    "order",
}


def only(packet: dict[str, Any]) -> dict[str, Any]:
    """The single object of a packet."""
    assert len(packet["objects"]) == 1, packet["objects"]
    return packet["objects"][0]


def is_empty(packet: dict[str, Any]) -> bool:
    return (
        not packet["objects"]
        and not packet["removed"]
        and not packet["assets"]
        and packet["order"] is None
        and not packet["clear"]
    )


class FakeFloat:
    """Stands in for a numpy float scalar: has __float__, no __index__."""

    def __init__(self, value: float) -> None:
        self.value = value

    def __float__(self) -> float:
        return self.value


class FakeInt:
    """Stands in for a numpy integer scalar."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __index__(self) -> int:
        return self.value


# -- the package itself ----------------------------------------------------------------------------


def test_rendering_imports_only_the_standard_library() -> None:
    for module in RENDERING_DIR.glob("*.py"):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or top == "__future__", (module.name, name)


def test_modules_stay_small() -> None:
    for module in RENDERING_DIR.glob("*.py"):
        assert len(module.read_text(encoding="utf-8").splitlines()) <= 500, module.name


# -- construction ----------------------------------------------------------------------------------


def test_surface_size_and_first_packet() -> None:
    s = Surface(640, 480)
    assert (s.width, s.height) == (640, 480)
    p = s.commit()
    assert set(p) == PACKET_KEYS
    assert p == {
        "version": PACKET_VERSION,
        "seq": 1,
        "clear": True,
        "width": 640,
        "height": 480,
        "assets": [],
        "objects": [],
        "removed": [],
        "order": [],
    }
    assert "640x480" in repr(s)


@pytest.mark.parametrize(
    ("width", "height", "error", "text"),
    [
        (0, 10, ValueError, "width must be a positive int"),
        (10, -1, ValueError, "height must be a positive int"),
        (10.5, 10, TypeError, "width must be an int"),
        (10, True, TypeError, "height must be an int"),
    ],
)
def test_surface_rejects_bad_size(width: Any, height: Any, error: type, text: str) -> None:
    with pytest.raises(error, match=text):
        Surface(width, height)


# -- every draw call -------------------------------------------------------------------------------


def test_rect_object() -> None:
    s = Surface(100, 100)
    oid = s.rect(1, 2, 30, 40, color="red", border_radius=3, stroke_color="#00f", stroke_width=2)
    assert oid == "~rect0"
    assert only(s.commit()) == {
        "id": "~rect0",
        "type": "rect",
        "x": 1,
        "y": 2,
        "w": 30,
        "h": 40,
        "color": "#ff0000",
        "stroke_color": "#0000ff",
        "stroke_width": 2,
        "border_radius": 3,
        "tween": 0,
    }


def test_rect_defaults_and_stroke_only() -> None:
    s = Surface(100, 100)
    s.rect(0, 0, 5, 5)
    s.rect(0, 0, 5, 5, color=None, stroke_color="black")
    a, b = s.commit()["objects"]
    assert (a["color"], a["stroke_color"], a["stroke_width"], a["border_radius"]) == (
        "#ffffff",
        None,
        0,
        0,
    )
    assert (b["color"], b["stroke_color"], b["stroke_width"]) == (None, "#000000", 1)


def test_circle_object() -> None:
    s = Surface(100, 100)
    s.circle(x=50, y=60, radius=7.123, color=(0, 128, 0), stroke_color="white", stroke_width=1.5)
    assert only(s.commit()) == {
        "id": "~circle0",
        "type": "circle",
        "x": 50,
        "y": 60,
        "radius": 7.12,
        "color": "#008000",
        "stroke_color": "#ffffff",
        "stroke_width": 1.5,
        "tween": 0,
    }


def test_ellipse_object() -> None:
    s = Surface(100, 100)
    s.ellipse(10, 20, 5, 3, color="navy", id="e")
    assert only(s.commit()) == {
        "id": "e",
        "type": "ellipse",
        "x": 10,
        "y": 20,
        "rx": 5,
        "ry": 3,
        "color": "#000080",
        "stroke_color": None,
        "stroke_width": 0,
        "tween": 0,
    }


def test_arc_object() -> None:
    s = Surface(100, 100)
    s.arc(10, 20, 5, 0, 3.14159265, color="gold", width=3, fill=True)
    assert only(s.commit()) == {
        "id": "~arc0",
        "type": "arc",
        "x": 10,
        "y": 20,
        "radius": 5,
        "start_angle": 0,
        "end_angle": 3.1416,
        "color": "#ffd700",
        "width": 3,
        "fill": True,
        "tween": 0,
    }


def test_positions_round_to_hundredths_and_angles_to_ten_thousandths() -> None:
    s = Surface(100, 100)
    s.rect(-1.23456, 2.5, 7.891, 0.004, border_radius=1.239, stroke_color="red", stroke_width=0.333)
    s.arc(1.00501, -0.12501, 2, -1.234567, 6.283185307179586, width=0.5)
    rect, arc = s.commit()["objects"]
    assert (rect["x"], rect["y"], rect["w"], rect["h"]) == (-1.23, 2.5, 7.89, 0)
    assert (rect["border_radius"], rect["stroke_width"]) == (1.24, 0.33)
    assert (arc["x"], arc["y"], arc["radius"], arc["width"]) == (1.01, -0.13, 2, 0.5)
    assert (arc["start_angle"], arc["end_angle"]) == (-1.2346, 6.2832)
    assert [type(arc[k]) for k in ("radius", "start_angle")] == [int, float]  # ints stay ints


def test_line_object_is_flat_and_updatable_by_id() -> None:
    s = Surface(100, 100)
    s.line([(0, 0), (10, 5.554), [20, 0]], color="blue", width=2, id="path")
    obj = only(s.commit())
    assert obj == {
        "id": "path",
        "type": "line",
        "points": [0, 0, 10, 5.55, 20, 0],
        "color": "#0000ff",
        "width": 2,
        "tween": 0,
    }
    s.line([(0, 0), (10, 5.554), (20, 0)], color="blue", width=2, id="path")
    assert is_empty(s.commit())
    s.line([(0, 0), (50, 50)], color="blue", width=2, id="path")
    p = s.commit()
    assert only(p)["points"] == [0, 0, 50, 50]
    assert p["removed"] == [] and p["order"] is None


def test_polygon_object() -> None:
    s = Surface(100, 100)
    s.polygon([(0, 0), (10, 0), (5, 8)], color="#abc", stroke_color="red", stroke_width=1)
    assert only(s.commit()) == {
        "id": "~polygon0",
        "type": "polygon",
        "points": [0, 0, 10, 0, 5, 8],
        "color": "#aabbcc",
        "stroke_color": "#ff0000",
        "stroke_width": 1,
        "tween": 0,
    }


def test_text_object_and_defaults() -> None:
    s = Surface(100, 100)
    s.text("Score: 3", 10, 20)
    s.text(42, 50, 50, size=24, color="white", font="Courier New", align="center",
           baseline="middle")  # fmt: skip
    a, b = s.commit()["objects"]
    assert a == {
        "id": "~text0",
        "type": "text",
        "text": "Score: 3",
        "x": 10,
        "y": 20,
        "size": 16,
        "color": "#000000",
        "font": "Arial",
        "align": "left",
        "baseline": "top",
        "tween": 0,
    }
    assert (b["id"], b["text"], b["size"], b["font"], b["align"], b["baseline"]) == (
        "~text1",
        "42",
        24,
        "Courier New",
        "center",
        "middle",
    )


def test_text_alignment_alias() -> None:
    s = Surface(100, 100)
    s.text("a", 0, 0, alignment="right")
    s.text("b", 0, 0, align="centre")
    s.text("c", 0, 0, align="center", alignment="center")
    assert [o["align"] for o in s.commit()["objects"]] == ["right", "center", "center"]
    with pytest.raises(ValueError, match=r"text\(\): align='left' and alignment='right'"):
        s.text("d", 0, 0, align="left", alignment="right")


def test_image_object(tmp_path: Path) -> None:
    s = Surface(100, 100)
    s.register_image("player", "assets/player.png")
    s.image("player", 10, 20, 32, 48, angle=90.5, id="p")
    obj = only(s.commit())
    assert obj == {
        "id": "p",
        "type": "image",
        "image_name": "player",
        "frame": None,
        "x": 10,
        "y": 20,
        "w": 32,
        "h": 48,
        "angle": 90.5,
        "tween": 0,
    }


def test_draw_calls_accept_keywords_like_multi_user_gymnasium() -> None:
    s = Surface(200, 100)
    s.register_image(name="bg", path="bg.png")
    s.register_atlas(name="sheet", img_path="sheet.png", json_path="does/not/exist.json")
    s.rect(x=0, y=0, w=1, h=1, color="black", relative=True, id="bg", persistent=True)
    s.circle(x=0.5, y=0.5, radius=0.05, color=(255, 0, 0), relative=True, depth=2)
    s.ellipse(x=1, y=1, rx=2, ry=3, color="green")
    s.arc(x=1, y=1, radius=3, start_angle=0, end_angle=1, color="green")
    s.line(points=[(0, 0), (1, 1)], color="white", width=2)
    s.polygon(points=[(0, 0), (1, 0), (0, 1)], color="blue", stroke_color="red", stroke_width=1)
    s.text(text="hi", x=0, y=0, size=12, color="white", font="Arial")
    s.image(image_name="sheet", x=0, y=0, w=16, h=16, frame="walk_1", angle=0, tween_duration=50)
    p = s.commit()
    assert len(p["objects"]) == 8
    json.dumps(p, allow_nan=False)


# -- argument validation ---------------------------------------------------------------------------


def _registered() -> Surface:
    s = Surface(100, 100)
    s.register_image("img", "img.png")
    return s


@pytest.mark.parametrize(
    ("draw", "error", "message"),
    [
        (lambda s: s.rect("1", 0, 1, 1), TypeError, "rect(): x must be a number, got str '1'"),
        (lambda s: s.rect(0, None, 1, 1), TypeError, "rect(): y must be a number"),
        (lambda s: s.rect(0, 0, -1, 1), ValueError, "rect(): w must be a non-negative number"),
        (lambda s: s.rect(0, 0, 1, float("nan")), ValueError, "rect(): h must be a finite"),
        (lambda s: s.rect(0, 0, 1, 1, border_radius=-2), ValueError, "rect(): border_radius"),
        (lambda s: s.rect(0, 0, 1, 1, stroke_width=2), ValueError, "rect(): stroke_width is set"),
        (lambda s: s.rect(0, 0, 1, 1, color=None), ValueError, "rect(): color and stroke_color"),
        (lambda s: s.rect(0, 0, 1, 1, color="rde"), ValueError, "rect(): color 'rde'"),
        (
            lambda s: s.circle(0, 0, -3),
            ValueError,
            "circle(): radius must be a non-negative number, got -3",
        ),
        (lambda s: s.circle(0, 0, True), TypeError, "circle(): radius must be a number"),
        (lambda s: s.circle(0, 0, 1, stroke_color=5), TypeError, "circle(): stroke_color"),
        (lambda s: s.circle(0, 0, 1, stroke_color="red", stroke_width=-1), ValueError, "circle"),
        (lambda s: s.ellipse(0, 0, 1, -1), ValueError, "ellipse(): ry must be a non-negative"),
        (lambda s: s.arc(0, 0, 1, "a", 1), TypeError, "arc(): start_angle must be a number"),
        (
            lambda s: s.arc(0, 0, 1, 0, float("inf")),
            ValueError,
            "arc(): end_angle must be a finite",
        ),
        (lambda s: s.arc(0, 0, 1, 0, 1, width=-1), ValueError, "arc(): width must be a non-neg"),
        (lambda s: s.arc(0, 0, 1, 0, 1, color=None), TypeError, "arc(): color must be"),
        (lambda s: s.line([(0, 0)]), ValueError, "line(): points needs at least 2 points, got 1"),
        (lambda s: s.line("abc"), TypeError, "line(): points must be a sequence of (x, y) pairs"),
        (lambda s: s.line(5), TypeError, "line(): points must be a sequence"),
        (lambda s: s.line([(0, 0), (1,)]), TypeError, r"line(): points[1] must be an (x, y)"),
        (lambda s: s.line([(0, 0), (1, "y")]), TypeError, "line(): points[1] must be a number"),
        (lambda s: s.line([(0, 0), (1, 1)], width=-1), ValueError, "line(): width"),
        (lambda s: s.polygon([(0, 0), (1, 1)]), ValueError, "polygon(): points needs at least 3"),
        (lambda s: s.text(None, 0, 0), TypeError, "text(): text must be a str"),
        (lambda s: s.text("a", 0, 0, size=0), ValueError, "text(): size must be a positive"),
        (lambda s: s.text("a", 0, 0, align="justify"), ValueError, "text(): align must be"),
        (lambda s: s.text("a", 0, 0, baseline="up"), ValueError, "text(): baseline must be"),
        (lambda s: s.text("a", 0, 0, font=""), TypeError, "text(): font must be a non-empty"),
        (lambda s: s.image("nope", 0, 0, 1, 1), ValueError, "image(): image_name 'nope' is not"),
        (lambda s: s.image(3, 0, 0, 1, 1), TypeError, "image(): image_name must be a str"),
        (lambda s: s.image("img", 0, 0, -1, 1), ValueError, "image(): w must be a non-negative"),
        (lambda s: s.image("img", 0, 0, 1, 1, frame="a"), ValueError, "is an image, not an atlas"),
        (lambda s: s.image("img", 0, 0, 1, 1, angle="90"), TypeError, "image(): angle must be"),
        (lambda s: s.rect(0, 0, 1, 1, persistent=True), ValueError, "persistent=True requires"),
        (lambda s: s.circle(0, 0, 1, id=""), ValueError, "circle(): id must not be empty"),
        (lambda s: s.circle(0, 0, 1, id="~x"), ValueError, "reserved for automatic ids"),
        (lambda s: s.circle(0, 0, 1, id=1.5), TypeError, "circle(): id must be a str or an int"),
        (lambda s: s.circle(0, 0, 1, depth=1.5), TypeError, "circle(): depth must be an int"),
        (lambda s: s.circle(0, 0, 1, depth=True), TypeError, "circle(): depth must be an int"),
        (lambda s: s.text("a", 0, 0, tween_duration=-5), ValueError, "text(): tween_duration"),
        (lambda s: s.text("a", 0, 0, tween_duration="5"), TypeError, "text(): tween_duration"),
    ],
)
def test_bad_arguments_name_the_call_and_argument(draw: Any, error: type, message: str) -> None:
    s = _registered()
    with pytest.raises(error) as info:
        draw(s)
    assert message in str(info.value)
    # A rejected call leaves nothing behind, not even a used-up automatic id.
    assert s.commit()["objects"] == []
    assert s.rect(0, 0, 1, 1) == "~rect0"


def test_numbers_from_numpy_like_scalars_become_plain_json_numbers() -> None:
    s = Surface(100, 100)
    s.rect(FakeFloat(1.23456), FakeInt(2), FakeFloat(3.0), FakeInt(4), depth=FakeInt(3))
    obj = only(s.commit())
    assert (obj["x"], obj["y"], obj["w"], obj["h"]) == (1.23, 2, 3.0, 4)
    assert all(type(obj[k]) in (int, float) for k in ("x", "y", "w", "h"))


def test_numpy_values_are_accepted() -> None:
    np = pytest.importorskip("numpy")
    s = Surface(100, 100)
    s.circle(
        np.float32(1.5), np.int64(2), np.float64(3.25), color=np.array([1, 2, 3]), id=np.int8(7)
    )
    s.line(np.array([[0.0, 0.0], [1.0, 2.0]]), color=np.array([255, 0, 0], dtype=np.uint8))
    p = s.commit()
    json.dumps(p, allow_nan=False)
    circle, line = p["objects"]
    assert (circle["id"], circle["x"], circle["y"], circle["radius"]) == ("7", 1.5, 2, 3.25)
    assert circle["color"] == "#010203"
    assert line["points"] == [0.0, 0.0, 1.0, 2.0]


# -- colours ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("color", "expected"),
    [
        ("red", "#ff0000"),
        ("Red", "#ff0000"),
        ("  cornflowerblue ", "#6495ed"),
        ("Dark Green", "#006400"),
        ("light_gray", "#d3d3d3"),
        ("rebeccapurple", "#663399"),
        ("transparent", "rgba(0,0,0,0)"),
        ("#ABCDEF", "#abcdef"),
        ("#abc", "#aabbcc"),
        ("#ff000080", "rgba(255,0,0,0.502)"),
        ("#f008", "rgba(255,0,0,0.533)"),
        ("#ff0000ff", "#ff0000"),
        ("rgb(1, 2, 3)", "#010203"),
        ("rgba(255, 0, 0, 0.5)", "rgba(255,0,0,0.5)"),
        ("rgb(10 20 30 / 0.25)", "rgba(10,20,30,0.25)"),
        ((255, 255, 255), "#ffffff"),
        ([0, 0, 0], "#000000"),
        ((254.6, 0.4, 127.5), "#ff0080"),
        ((255, 0, 0, 128), "rgba(255,0,0,0.502)"),
        ((255, 0, 0, 0.25), "rgba(255,0,0,0.25)"),
        ((255, 0, 0, 1), "#ff0000"),
        ((255, 0, 0, 1.0), "#ff0000"),
        ((255, 0, 0, 255), "#ff0000"),
        ((255, 0, 0, 0), "rgba(255,0,0,0)"),
        ((0.0, 0.0, 0.0), "#000000"),
        ((FakeInt(1), FakeFloat(2.0), 3), "#010203"),
    ],
)
def test_parse_color_canonical_forms(color: Any, expected: str) -> None:
    assert parse_color(color) == expected
    assert parse_color(color) == expected  # second time from the cache


@pytest.mark.parametrize(
    ("color", "error", "message"),
    [
        ("rde", ValueError, "did you mean 'red'"),
        ("notacolour", ValueError, "is not a known colour"),
        ("#12", ValueError, "is not a valid hex colour"),
        ("#ggg", ValueError, "is not a valid hex colour"),
        ("rgb(a, b, c)", ValueError, "must list plain numbers"),
        ((1, 2), ValueError, "must have 3 (r, g, b) or 4 (r, g, b, a) components"),
        ((1, 2, 3, 4, 5), ValueError, "must have 3"),
        ((256, 0, 0), ValueError, "components must be 0-255"),
        ((-1, 0, 0), ValueError, "components must be 0-255"),
        ((0, 0, 0, 300), ValueError, "alpha must be 0-1 or 0-255"),
        ((0.5, 0.2, 0.1), ValueError, "looks like 0-1 floats"),
        ((1.0, 1.0, 1.0), ValueError, "looks like 0-1 floats"),
        ((True, 0, 0), TypeError, "components must be numbers"),
        (("1", 0, 0), TypeError, "components must be numbers"),
        ((float("nan"), 0, 0), ValueError, "components must be 0-255"),
        (12, TypeError, "must be a colour name"),
        (b"red", TypeError, "must be a colour name"),
        ({"r": 1}, TypeError, "must be a colour name"),
    ],
)
def test_parse_color_errors(color: Any, error: type, message: str) -> None:
    with pytest.raises(error) as info:
        parse_color(color, "rect", "color")
    assert str(info.value).startswith("rect(): color")
    assert message in str(info.value)


def test_css_table_is_complete_and_canonical() -> None:
    assert len(CSS_COLORS) == 149  # 148 CSS names plus "transparent"
    for name, value in CSS_COLORS.items():
        assert name == name.lower() and " " not in name
        assert parse_color(value) == value


def test_colours_in_packets_are_canonical() -> None:
    s = Surface(10, 10)
    s.polygon([(0, 0), (1, 0), (0, 1)], color=[0, 255, 0, 0.5], stroke_color="#FFF")
    obj = only(s.commit())
    assert (obj["color"], obj["stroke_color"]) == ("rgba(0,255,0,0.5)", "#ffffff")


# -- deltas ----------------------------------------------------------------------------------------


def draw_scene(s: Surface, ball_x: float = 50) -> None:
    s.rect(0, 0, 100, 100, "black")
    s.rect(10, 10, 5, 5, "white")
    s.circle(ball_x, 50, 3, "red", id="ball")
    s.text("score", 0, 0)


def test_unchanged_frames_produce_empty_packets() -> None:
    s = Surface(100, 100)
    draw_scene(s)
    first = s.commit()
    assert first["clear"] is True
    assert [o["id"] for o in first["objects"]] == ["~rect0", "~rect1", "ball", "~text0"]
    assert first["order"] == ["~rect0", "~rect1", "ball", "~text0"]
    for seq in range(2, 6):
        draw_scene(s)
        p = s.commit()
        assert is_empty(p)
        assert p["seq"] == seq
        assert json.dumps(p) == (
            f'{{"version": 1, "seq": {seq}, "clear": false, "width": 100, "height": 100, '
            '"assets": [], "objects": [], "removed": [], "order": null}'
        )


def test_changed_objects_appear_alone() -> None:
    s = Surface(100, 100)
    draw_scene(s)
    s.commit()
    draw_scene(s, ball_x=60)
    p = s.commit()
    assert only(p)["id"] == "ball" and only(p)["x"] == 60
    assert p["removed"] == [] and p["order"] is None


def test_objects_not_redrawn_are_removed() -> None:
    s = Surface(100, 100)
    draw_scene(s)
    s.commit()
    s.rect(0, 0, 100, 100, "black")
    s.circle(50, 50, 3, "red", id="ball")
    p = s.commit()
    assert p["objects"] == []
    assert sorted(p["removed"]) == ["~rect1", "~text0"]
    assert p["order"] == ["~rect0", "ball"]
    p = s.commit()  # nothing drawn: every non-persistent object goes
    assert set(p["removed"]) == {"~rect0", "ball"} and p["order"] == []
    assert is_empty(s.commit())


def test_anonymous_ids_count_per_call_type() -> None:
    s = Surface(100, 100)
    ids = [s.rect(0, 0, 1, 1), s.circle(0, 0, 1), s.rect(1, 1, 1, 1), s.text("t", 0, 0)]
    assert ids == ["~rect0", "~circle0", "~rect1", "~text0"]
    s.commit()
    # Next frame the counters restart, so the same calls give the same ids.
    assert s.circle(0, 0, 1) == "~circle0"
    # An extra anonymous rect drawn first shifts the later rects of the same type only.
    s.rect(5, 5, 1, 1)
    s.rect(0, 0, 1, 1)
    s.rect(1, 1, 1, 1)
    s.text("t", 0, 0)
    p = s.commit()
    assert {o["id"] for o in p["objects"]} == {"~rect0", "~rect1", "~rect2"}
    assert p["removed"] == []


def test_explicit_ids_ints_and_redraw_within_a_frame() -> None:
    s = Surface(100, 100)
    assert s.circle(0, 0, 1, id=7) == "7"
    s.rect(0, 0, 1, 1, id="a")
    s.rect(0, 0, 2, 2, id="b")
    s.rect(5, 5, 1, 1, id="a")  # last call wins and takes its place in call order
    p = s.commit()
    assert [o["id"] for o in p["objects"]] == ["7", "b", "a"]
    assert [o.get("x") for o in p["objects"]] == [0, 0, 5]
    assert p["order"] == ["7", "b", "a"]


def test_same_id_can_change_type() -> None:
    s = Surface(100, 100)
    s.circle(1, 1, 1, id="thing")
    s.commit()
    s.rect(1, 1, 1, 1, id="thing")
    p = s.commit()
    assert only(p)["type"] == "rect" and p["removed"] == []


# -- persistence, remove and reset -----------------------------------------------------------------


def test_persistent_objects_stay_until_removed() -> None:
    s = Surface(100, 100)
    s.rect(0, 0, 100, 100, "black", id="bg", persistent=True)
    s.circle(1, 1, 1, id="ball")
    s.commit()
    s.circle(1, 1, 1, id="ball")
    assert is_empty(s.commit())
    s.commit()  # ball gone, bg stays
    p = s.commit()
    assert is_empty(p)
    assert s.snapshot()["order"] == ["bg"]
    # Redrawing a persistent object unchanged costs nothing; changing it sends it.
    s.rect(0, 0, 100, 100, "black", id="bg", persistent=True)
    assert is_empty(s.commit())
    s.rect(0, 0, 100, 100, "gray", id="bg", persistent=True)
    assert only(s.commit())["color"] == "#808080"
    assert s.remove("bg") is True
    p = s.commit()
    assert p["removed"] == ["bg"] and p["order"] == []
    assert s.remove("bg") is False


def test_persistence_follows_the_latest_draw() -> None:
    s = Surface(100, 100)
    s.rect(0, 0, 1, 1, id="r", persistent=True)
    s.commit()
    s.rect(0, 0, 1, 1, id="r")  # now an ordinary object
    assert is_empty(s.commit())
    assert s.commit()["removed"] == ["r"]


def test_remove_within_a_frame() -> None:
    s = Surface(100, 100)
    s.circle(0, 0, 1, id="a")
    s.circle(0, 0, 1, id="b", persistent=True)
    s.commit()
    s.circle(0, 0, 1, id="a")
    assert s.remove("a") is True  # drawn this frame and known to the client
    assert s.remove("b") is True
    assert s.remove("never") is False
    p = s.commit()
    assert sorted(p["removed"]) == ["a", "b"] and p["order"] == []
    # Removed and redrawn in the same frame: the redraw wins.
    s.circle(0, 0, 1, id="c", persistent=True)
    s.commit()
    s.remove("c")
    s.circle(0, 0, 1, id="c", persistent=True)
    assert is_empty(s.commit())
    # A draw never committed can be taken back.
    s.circle(0, 0, 1, id="d")
    assert s.remove("d") is True
    assert is_empty(s.commit())
    with pytest.raises(TypeError, match=r"remove\(\): id must be a str or an int"):
        s.remove(None)  # type: ignore[arg-type]


def test_reset_clears_everything_and_resends_assets() -> None:
    s = Surface(100, 100)
    s.register_image("img", "img.png")
    s.image("img", 0, 0, 1, 1, id="i", persistent=True)
    s.circle(0, 0, 1)
    p1 = s.commit()
    assert p1["assets"] == [{"name": "img", "type": "image", "path": "img.png"}]
    s.reset()
    s.circle(5, 5, 1)
    p = s.commit()
    assert p["clear"] is True and p["seq"] == 2
    assert p["assets"] == [{"name": "img", "type": "image", "path": "img.png"}]
    assert [o["id"] for o in p["objects"]] == ["~circle0"]
    assert p["removed"] == [] and p["order"] == ["~circle0"]
    s.circle(5, 5, 1)
    assert is_empty(s.commit())
    # Drawn before reset() in the same frame: dropped too.
    s.circle(1, 1, 1, id="x")
    s.reset()
    assert s.commit()["objects"] == []


# -- relative coordinates --------------------------------------------------------------------------


def test_relative_coordinates_become_pixels() -> None:
    s = Surface(200, 100)
    s.register_image("img", "img.png")
    common: dict[str, Any] = {"relative": True}
    s.rect(0.5, 0.5, 0.25, 0.1, border_radius=4, stroke_color="red", stroke_width=2, **common)
    s.circle(0.5, 0.5, 0.1, **common)
    s.ellipse(0.5, 0.5, 0.1, 0.1, **common)
    s.arc(0.1, 0.2, 0.05, 0, 1, width=3, **common)
    s.line([(0, 0), (1, 1)], width=2, **common)
    s.polygon([(0, 0), (1, 0), (0.5, 0.333333)], **common)
    s.text("t", 0.5, 0.25, size=20, **common)
    s.image("img", 0.1, 0.1, 0.5, 0.5, **common)
    rect, circle, ellipse, arc, line, polygon, text, image = s.commit()["objects"]
    assert (rect["x"], rect["y"], rect["w"], rect["h"]) == (100, 50, 50, 10)
    assert (rect["border_radius"], rect["stroke_width"]) == (4, 2)  # pixels, not scaled
    assert (circle["x"], circle["y"], circle["radius"]) == (100, 50, 20)  # radius: max(w, h)
    assert (ellipse["rx"], ellipse["ry"]) == (20, 10)
    assert (arc["x"], arc["y"], arc["radius"], arc["width"]) == (20, 20, 10, 3)
    assert line["points"] == [0, 0, 200, 100] and line["width"] == 2
    assert polygon["points"] == [0, 0, 200, 0, 100, 33.33]
    assert (text["x"], text["y"], text["size"]) == (100, 25, 20)
    assert (image["x"], image["y"], image["w"], image["h"]) == (20, 10, 100, 50)


def test_relative_and_pixel_draws_of_the_same_place_are_equal() -> None:
    s = Surface(200, 100)
    s.rect(0.5, 0.5, 0.25, 0.25, id="r", relative=True)
    s.commit()
    s.rect(100, 50, 50, 25, id="r")
    assert is_empty(s.commit())


# -- depth and paint order -------------------------------------------------------------------------


def test_order_sorts_by_depth_then_call_order() -> None:
    s = Surface(100, 100)
    s.circle(0, 0, 1, id="top", depth=5)
    s.circle(0, 0, 1, id="a")
    s.circle(0, 0, 1, id="under", depth=-1)
    s.circle(0, 0, 1, id="b")
    p = s.commit()
    assert p["order"] == ["under", "a", "b", "top"]
    assert "depth" not in p["objects"][0]  # order is the one source of paint order


def test_depth_change_resends_order_only() -> None:
    s = Surface(100, 100)
    s.circle(0, 0, 1, id="a")
    s.circle(0, 0, 1, id="b")
    s.commit()
    s.circle(0, 0, 1, id="a", depth=1)
    s.circle(0, 0, 1, id="b")
    p = s.commit()
    assert p["objects"] == [] and p["order"] == ["b", "a"]
    s.circle(0, 0, 1, id="a", depth=1)
    s.circle(0, 0, 1, id="b")
    assert is_empty(s.commit())


def test_carried_persistent_objects_paint_before_this_frames_at_equal_depth() -> None:
    s = Surface(100, 100)
    s.rect(0, 0, 9, 9, id="bg", persistent=True)
    s.rect(0, 0, 9, 9, id="wall", persistent=True)
    s.circle(0, 0, 1, id="player")
    s.rect(0, 0, 9, 9, id="hud", persistent=True, depth=10)
    assert s.commit()["order"] == ["bg", "wall", "player", "hud"]
    s.circle(1, 1, 1, id="player")
    assert s.commit()["order"] is None  # same order
    s.circle(1, 1, 1, id="player")
    s.rect(0, 0, 9, 9, id="bg", persistent=True)  # redrawn after the player: now above it
    p = s.commit()
    assert p["objects"] == []
    assert p["order"] == ["wall", "player", "bg", "hud"]


# -- tweening --------------------------------------------------------------------------------------


def test_tween_duration_is_sent_with_the_object() -> None:
    s = Surface(100, 100)
    s.circle(0, 0, 1, id="ball", tween_duration=100)
    s.circle(0, 0, 1, id="still", tween_duration=None)
    a, b = s.commit()["objects"]
    assert (a["tween"], b["tween"]) == (100, 0)
    s.circle(5, 0, 1, id="ball", tween_duration=100)
    s.circle(0, 0, 1, id="still")
    assert only(s.commit())["tween"] == 100


def test_viewer_marks_an_object_for_one_agents_page() -> None:
    s = Surface(100, 100)
    s.text("YOU", 10, 10, id="you_a", viewer="agent_a")
    s.text("YOU", 50, 10, id="you_1", viewer=1)
    s.circle(0, 0, 1, id="ball")
    marked, numbered, ball = s.commit()["objects"]
    assert (marked["viewer"], numbered["viewer"]) == ("agent_a", "1")
    assert "viewer" not in ball  # unmarked objects are unchanged
    s.text("YOU", 10, 10, id="you_a", viewer="agent_a")
    s.text("YOU", 50, 10, id="you_1", viewer=1)
    s.circle(0, 0, 1, id="ball")
    assert s.commit()["objects"] == []  # an unchanged mark costs nothing
    s.text("YOU", 10, 10, id="you_a", viewer="agent_b")
    assert only(s.commit())["viewer"] == "agent_b"


@pytest.mark.parametrize(
    ("viewer", "error", "message"),
    [
        (True, TypeError, "text(): viewer must be a str or an int"),
        (2.5, TypeError, "text(): viewer must be a str or an int"),
        ("", ValueError, "text(): viewer must not be empty"),
    ],
)
def test_bad_viewer_is_refused_before_anything_is_drawn(
    viewer: Any, error: type, message: str
) -> None:
    s = Surface(100, 100)
    with pytest.raises(error, match=re.escape(message)):
        s.text("YOU", 0, 0, viewer=viewer)
    s.text("a", 0, 0)
    assert only(s.commit())["id"] == "~text0"  # the refused call took no automatic id


# -- assets ----------------------------------------------------------------------------------------


def write_atlas(tmp_path: Path, layout: str) -> Path:
    frames = ["walk_0", "walk_1", "idle"]
    if layout == "hash":
        data: Any = {"frames": {f: {"frame": {"x": 0, "y": 0, "w": 8, "h": 8}} for f in frames}}
    elif layout == "array":
        data = {"frames": [{"filename": f, "frame": {}} for f in frames]}
    else:
        data = {"textures": [{"image": "a.png", "frames": [{"filename": f} for f in frames]}]}
    path = tmp_path / f"atlas_{layout}.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_assets_appear_once() -> None:
    s = Surface(100, 100)
    s.register_image("a", "a.png")
    s.register_atlas("sheet", Path("sheet.png"), "sheet.json")
    p = s.commit()
    assert p["assets"] == [
        {"name": "a", "type": "image", "path": "a.png"},
        {"name": "sheet", "type": "atlas", "path": "sheet.png", "json_path": "sheet.json"},
    ]
    s.register_image("a", "a.png")  # same again: nothing new
    assert s.commit()["assets"] == []
    s.register_image("b", "b.png")
    assert s.commit()["assets"] == [{"name": "b", "type": "image", "path": "b.png"}]
    assert s.commit()["assets"] == []
    assert [a["name"] for a in s.snapshot()["assets"]] == ["a", "sheet", "b"]


def test_packet_assets_are_copies() -> None:
    s = Surface(100, 100)
    s.register_image("a", "a.png")
    s.commit()["assets"][0]["path"] = "/static/a.png"  # a server may rewrite paths
    s.register_image("a", "a.png")  # still the same registration
    assert s.snapshot()["assets"][0]["path"] == "a.png"


@pytest.mark.parametrize(
    ("register", "error", "message"),
    [
        (lambda s: s.register_image("", "a.png"), TypeError, "register_image(): name must be"),
        (lambda s: s.register_image("a", ""), TypeError, "register_image(): path must be"),
        (lambda s: s.register_image("a", 5), TypeError, "register_image(): path must be"),
        (lambda s: s.register_image("x", "other.png"), ValueError, "'x' is already registered"),
        (lambda s: s.register_atlas("x", "x.png", "x.json"), ValueError, "already registered"),
        (lambda s: s.register_atlas("y", "y.png", None), TypeError, "json_path must be"),
    ],
)
def test_register_errors(register: Any, error: type, message: str) -> None:
    s = Surface(10, 10)
    s.register_image("x", "x.png")
    with pytest.raises(error) as info:
        register(s)
    assert message in str(info.value)


@pytest.mark.parametrize("layout", ["hash", "array", "multiatlas"])
def test_atlas_frames_are_checked_when_the_json_exists(tmp_path: Path, layout: str) -> None:
    s = Surface(100, 100)
    s.register_atlas("chars", "chars.png", write_atlas(tmp_path, layout))
    s.image("chars", 0, 0, 8, 8, frame="walk_1")
    s.image("chars", 0, 0, 8, 8, frame=2)  # an index into the frames
    s.image("chars", 0, 0, 8, 8)  # the whole atlas image
    objects = s.commit()["objects"]
    assert [o["frame"] for o in objects] == ["walk_1", 2, None]
    with pytest.raises(ValueError, match=r"frame 'walk_2' is not in atlas 'chars'.*'walk_1'"):
        s.image("chars", 0, 0, 8, 8, frame="walk_2")
    with pytest.raises(ValueError, match="frame 7 is not in atlas"):
        s.image("chars", 0, 0, 8, 8, frame=7)
    with pytest.raises(TypeError, match="frame must be a str or an int"):
        s.image("chars", 0, 0, 8, 8, frame=1.5)


def test_atlas_without_json_file_accepts_any_frame() -> None:
    s = Surface(100, 100)
    s.register_atlas("chars", "chars.png", "served/later/chars.json")
    s.image("chars", 0, 0, 8, 8, frame="anything")
    assert only(s.commit())["frame"] == "anything"


def test_atlas_with_broken_json_is_rejected(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match=r"register_atlas\(\): json_path .* is not readable JSON"):
        Surface(10, 10).register_atlas("a", "a.png", bad)


# -- packets, snapshots and the reference reader ---------------------------------------------------


def test_apply_packet_rejects_unknown_version_and_gaps() -> None:
    s = Surface(10, 10)
    scene = apply_packet(None, s.commit())
    s.commit()
    with pytest.raises(ValueError, match="does not follow"):
        apply_packet(scene, s.commit())
    bad = s.snapshot()
    bad["version"] = 99
    with pytest.raises(ValueError, match="packet version 99"):
        apply_packet(None, bad)
    # A snapshot recovers from the gap, and the next delta applies on top of it.
    scene = apply_packet(scene, s.snapshot())
    apply_packet(scene, s.commit())


def test_snapshot_does_not_disturb_deltas() -> None:
    s = Surface(100, 100)
    draw_scene(s)
    s.commit()
    snap = s.snapshot()
    assert snap["clear"] is True and snap["seq"] == 1
    assert [o["id"] for o in snap["objects"]] == snap["order"]
    draw_scene(s)
    assert is_empty(s.commit())


def random_frame(s: Surface, rng: random.Random, step: int) -> None:
    """Draw a random mix of calls, ids, persistence, depths, removals and resets."""
    if rng.random() < 0.03:
        s.reset()
    for _ in range(rng.randint(0, 12)):
        kind = rng.choice(["rect", "circle", "text", "line", "image"])
        named = rng.random() < 0.6
        common: dict[str, Any] = {
            "id": f"o{rng.randint(0, 15)}" if named else None,
            "persistent": named and rng.random() < 0.3,
            "depth": rng.randint(-1, 2),
        }
        x = rng.choice([1, 2, 3.5])
        if kind == "rect":
            s.rect(x, 0, 3, 3, rng.choice(["red", "blue"]), **common)
        elif kind == "circle":
            s.circle(x, 1, 2, **common)
        elif kind == "text":
            s.text(f"t{rng.randint(0, 2)}", x, 0, **common)
        elif kind == "line":
            s.line([(0, 0), (x, 1)], **common)
        else:
            s.image("img", x, 0, 4, 4, **common)
    for _ in range(rng.randint(0, 2)):
        s.remove(f"o{rng.randint(0, 15)}")


def test_deltas_always_rebuild_the_full_scene() -> None:
    rng = random.Random(1234)
    s = Surface(64, 48)
    s.register_image("img", "img.png")
    scene = None
    for step in range(400):
        random_frame(s, rng, step)
        packet = s.commit()
        wire = json.loads(json.dumps(packet, allow_nan=False))  # what a browser receives
        scene = apply_packet(scene, wire)
        full = apply_packet(None, json.loads(json.dumps(s.snapshot())))
        assert scene["objects"] == full["objects"], step
        assert scene["order"] == full["order"], step
        assert scene["assets"] == full["assets"], step
        assert len(set(scene["order"])) == len(scene["order"])


def test_several_surfaces_are_independent() -> None:
    surfaces = {agent: Surface(50, 50) for agent in ("agent_0", "agent_1")}
    for agent, surface in surfaces.items():
        surface.text(agent, 0, 0, id="label")
    p0, p1 = (s.commit() for s in surfaces.values())
    assert only(p0)["text"] == "agent_0" and only(p1)["text"] == "agent_1"
    surfaces["agent_0"].text("agent_0", 0, 0, id="label")
    assert is_empty(surfaces["agent_0"].commit())
    assert surfaces["agent_1"].commit()["removed"] == ["label"]
