"""``Surface``: the drawing API an env calls inside ``render()`` (standard library only).

The same module runs on the server (CPython 3.11) and in the browser (Pyodide, Python 3.14), so
it imports nothing outside the standard library. ``docs/surface.md`` is the full reference.
"""

from __future__ import annotations

import difflib
import operator
from collections.abc import Iterable, Sequence
from typing import Any

from .colors import ColorLike, parse_color
from .packets import Asset, _number, _Recorder, _size

__all__ = ["Surface"]

Point = Sequence[float]

_ALIGNS = {"left": "left", "center": "center", "centre": "center", "right": "right"}
_BASELINES = ("top", "hanging", "middle", "alphabetic", "ideographic", "bottom")


def _r2(value: float) -> float:
    """``value`` to two decimals: several times faster than ``round(value, 2)``, which matters
    at thousands of coordinates a second (ties may round differently; pixels do not care)."""
    if type(value) is int:
        return value
    return round(value * 100.0) / 100.0


def _at(value: Any, call: str, arg: str, scale: int = 1) -> float:
    """A position ``value`` (times ``scale``) to two decimals, ints kept as ints.

    Raises as ``_number`` does; the common finite-float case takes no further calls.
    """
    kind = type(value)
    if kind is float and value - value == 0.0:
        return round(value * scale * 100.0) / 100.0
    if kind is int:
        return value * scale
    return _r2(_number(value, call, arg) * scale)


def _extent(value: Any, call: str, arg: str, scale: int = 1) -> float:
    """A size ``value`` (times ``scale``) to two decimals; raises as ``_size`` does."""
    if type(value) is float and value >= 0.0 and value - value == 0.0:
        return round(value * scale * 100.0) / 100.0
    return _r2(_size(value, call, arg) * scale)


def _angle(value: Any, call: str, arg: str) -> float:
    """An angle in radians to four decimals (as ``round(value, 4)``, ties aside)."""
    value = _number(value, call, arg)
    if type(value) is float and -1e9 < value < 1e9:
        return round(value * 10000.0) / 10000.0
    return round(value, 4)


def _points(points: Any, call: str, minimum: int, sx: float, sy: float) -> list[float]:
    """Flatten ``[(x0, y0), (x1, y1), ...]`` to ``[x0, y0, x1, y1, ...]`` in pixels."""
    if type(points) is not list and (
        isinstance(points, str | bytes) or not isinstance(points, Iterable)
    ):
        raise TypeError(
            f"{call}(): points must be a sequence of (x, y) pairs, got {type(points).__name__}"
        )
    flat: list[float] = []
    append = flat.append
    for i, point in enumerate(points):
        try:
            px, py = point
        except (TypeError, ValueError):
            raise TypeError(
                f"{call}(): points[{i}] must be an (x, y) pair, got {point!r}"
            ) from None
        if type(px) is float and type(py) is float and px - px == 0.0 and py - py == 0.0:
            # the common case, inlined: finite floats, rounded as _r2 does
            append(round(px * sx * 100.0) / 100.0)
            append(round(py * sy * 100.0) / 100.0)
            continue
        append(_r2(_number(px, call, f"points[{i}]") * sx))
        append(_r2(_number(py, call, f"points[{i}]") * sy))
    if len(flat) < 2 * minimum:
        raise ValueError(f"{call}(): points needs at least {minimum} points, got {len(flat) // 2}")
    return flat


def _paint(
    call: str, color: Any, stroke_color: Any, stroke_width: Any
) -> tuple[str | None, str | None, float]:
    """Canonical (fill, stroke colour, stroke width) of a filled shape."""
    fill = None if color is None else parse_color(color, call, "color")
    if stroke_color is None:
        if stroke_width:
            raise ValueError(f"{call}(): stroke_width is set but stroke_color is not")
        if fill is None:
            raise ValueError(f"{call}(): color and stroke_color are both None; nothing to draw")
        return fill, None, 0
    width = 1 if stroke_width is None else _extent(stroke_width, call, "stroke_width")
    return fill, parse_color(stroke_color, call, "stroke_color"), width


class Surface(_Recorder):
    """A drawing area of ``width`` x ``height`` pixels that an env draws on in ``render()``.

    Each frame, call draw methods (``rect``, ``circle``, ``ellipse``, ``arc``, ``line``,
    ``polygon``, ``text``, ``image``), then return ``commit()``: a JSON-serialisable packet
    holding only what changed since the previous commit. An object drawn in one frame and not
    in the next is removed, unless it was drawn with ``persistent=True``; persistent objects
    stay until ``remove(id)`` or ``reset()``.

    Every draw method takes these keyword-only options and returns the object's id:

    - ``id``: a str (or int) naming the object across frames. Redrawing an id replaces the
      object; without one the object gets an automatic id ``"~<call><n>"`` (the n-th anonymous
      object of that call in this frame), so an unchanged scene redrawn every frame costs
      nothing. Ids starting with ``~`` are reserved.
    - ``persistent``: keep the object in later frames without redrawing it (needs an ``id``).
    - ``relative``: positions and extents are fractions (0 to 1) of the surface instead of
      pixels; stroke and line widths, border radius and font size stay in pixels.
    - ``depth``: int paint layer; higher is drawn on top. At equal depth, objects drawn in this
      frame are painted in call order, on top of persistent objects carried over undrawn.
    - ``tween_duration``: milliseconds over which the browser moves the object from where it
      was to its new position (0 or ``None``: jump).
    - ``viewer``: an agent id (str or int); the object is drawn only on the page of the player
      of that agent, e.g. a "YOU" marker over each player's own avatar in one shared frame.
      Every player's page still receives it: it hides nothing. For what a player must not
      know, draw per agent (``render(agent_id)``) instead.

    Wrong arguments raise ``TypeError``/``ValueError`` naming the call and the argument.
    """

    __slots__ = ()

    def rect(
        self,
        x: float,
        y: float,
        w: float,
        h: float,
        color: ColorLike | None = "white",
        border_radius: float = 0,
        stroke_color: ColorLike | None = None,
        stroke_width: float | None = None,
        *,
        id: str | int | None = None,
        persistent: bool = False,
        relative: bool = False,
        depth: int = 0,
        tween_duration: float | None = None,
        viewer: str | int | None = None,
    ) -> str:
        """Draw a ``w`` x ``h`` rectangle with its top-left corner at (``x``, ``y``).

        ``color`` fills it (``None``: no fill); ``stroke_color``/``stroke_width`` outline it
        (width defaults to 1 when a stroke colour is given); ``border_radius`` rounds corners.
        """
        c = "rect"
        sx, sy = (self._width, self._height) if relative else (1, 1)
        fill, stroke, stroke_w = _paint(c, color, stroke_color, stroke_width)
        obj = {
            "id": None,
            "type": c,
            "x": _at(x, c, "x", sx),
            "y": _at(y, c, "y", sy),
            "w": _extent(w, c, "w", sx),
            "h": _extent(h, c, "h", sy),
            "color": fill,
            "stroke_color": stroke,
            "stroke_width": stroke_w,
            "border_radius": _extent(border_radius, c, "border_radius"),
        }
        return self._add(c, obj, id, persistent, depth, tween_duration, viewer)

    def circle(
        self,
        x: float,
        y: float,
        radius: float,
        color: ColorLike | None = "white",
        stroke_color: ColorLike | None = None,
        stroke_width: float | None = None,
        *,
        id: str | int | None = None,
        persistent: bool = False,
        relative: bool = False,
        depth: int = 0,
        tween_duration: float | None = None,
        viewer: str | int | None = None,
    ) -> str:
        """Draw a circle centred on (``x``, ``y``).

        With ``relative=True`` the radius is a fraction of ``max(width, height)``. Fill and
        stroke as for ``rect``.
        """
        c = "circle"
        sx, sy = (self._width, self._height) if relative else (1, 1)
        fill, stroke, stroke_w = _paint(c, color, stroke_color, stroke_width)
        obj = {
            "id": None,
            "type": c,
            "x": _at(x, c, "x", sx),
            "y": _at(y, c, "y", sy),
            "radius": _extent(radius, c, "radius", max(sx, sy)),
            "color": fill,
            "stroke_color": stroke,
            "stroke_width": stroke_w,
        }
        return self._add(c, obj, id, persistent, depth, tween_duration, viewer)

    def ellipse(
        self,
        x: float,
        y: float,
        rx: float,
        ry: float,
        color: ColorLike | None = "white",
        stroke_color: ColorLike | None = None,
        stroke_width: float | None = None,
        *,
        id: str | int | None = None,
        persistent: bool = False,
        relative: bool = False,
        depth: int = 0,
        tween_duration: float | None = None,
        viewer: str | int | None = None,
    ) -> str:
        """Draw an axis-aligned ellipse centred on (``x``, ``y``) with radii ``rx`` and ``ry``.

        With ``relative=True``, ``rx`` is a fraction of the width and ``ry`` of the height.
        """
        c = "ellipse"
        sx, sy = (self._width, self._height) if relative else (1, 1)
        fill, stroke, stroke_w = _paint(c, color, stroke_color, stroke_width)
        obj = {
            "id": None,
            "type": c,
            "x": _at(x, c, "x", sx),
            "y": _at(y, c, "y", sy),
            "rx": _extent(rx, c, "rx", sx),
            "ry": _extent(ry, c, "ry", sy),
            "color": fill,
            "stroke_color": stroke,
            "stroke_width": stroke_w,
        }
        return self._add(c, obj, id, persistent, depth, tween_duration, viewer)

    def arc(
        self,
        x: float,
        y: float,
        radius: float,
        start_angle: float,
        end_angle: float,
        color: ColorLike = "white",
        width: float = 1,
        fill: bool = False,
        *,
        id: str | int | None = None,
        persistent: bool = False,
        relative: bool = False,
        depth: int = 0,
        tween_duration: float | None = None,
        viewer: str | int | None = None,
    ) -> str:
        """Draw an arc of the circle centred on (``x``, ``y``).

        Angles are in radians, 0 pointing right (+x), and the arc runs clockwise on screen
        (y grows downward) from ``start_angle`` to ``end_angle``. The arc is a ``width``-pixel
        line in ``color``; with ``fill=True`` it is instead a filled pie slice.
        """
        c = "arc"
        sx, sy = (self._width, self._height) if relative else (1, 1)
        obj = {
            "id": None,
            "type": c,
            "x": _at(x, c, "x", sx),
            "y": _at(y, c, "y", sy),
            "radius": _extent(radius, c, "radius", max(sx, sy)),
            "start_angle": _angle(start_angle, c, "start_angle"),
            "end_angle": _angle(end_angle, c, "end_angle"),
            "color": parse_color(color, c, "color"),
            "width": _extent(width, c, "width"),
            "fill": bool(fill),
        }
        return self._add(c, obj, id, persistent, depth, tween_duration, viewer)

    def line(
        self,
        points: Iterable[Point],
        color: ColorLike = "white",
        width: float = 1,
        *,
        id: str | int | None = None,
        persistent: bool = False,
        relative: bool = False,
        depth: int = 0,
        tween_duration: float | None = None,
        viewer: str | int | None = None,
    ) -> str:
        """Draw an open polyline through ``points`` (at least 2 ``(x, y)`` pairs).

        ``width`` is the line thickness in pixels. Redrawing the same ``id`` replaces the
        points, which is how a line is updated.
        """
        c = "line"
        sx, sy = (self._width, self._height) if relative else (1, 1)
        obj = {
            "id": None,
            "type": c,
            "points": _points(points, c, 2, sx, sy),
            "color": parse_color(color, c, "color"),
            "width": _extent(width, c, "width"),
        }
        return self._add(c, obj, id, persistent, depth, tween_duration, viewer)

    def polygon(
        self,
        points: Iterable[Point],
        color: ColorLike | None = "white",
        stroke_color: ColorLike | None = None,
        stroke_width: float | None = None,
        *,
        id: str | int | None = None,
        persistent: bool = False,
        relative: bool = False,
        depth: int = 0,
        tween_duration: float | None = None,
        viewer: str | int | None = None,
    ) -> str:
        """Draw a closed polygon through ``points`` (at least 3 ``(x, y)`` pairs).

        Fill and stroke as for ``rect``.
        """
        c = "polygon"
        sx, sy = (self._width, self._height) if relative else (1, 1)
        fill, stroke, stroke_w = _paint(c, color, stroke_color, stroke_width)
        obj = {
            "id": None,
            "type": c,
            "points": _points(points, c, 3, sx, sy),
            "color": fill,
            "stroke_color": stroke,
            "stroke_width": stroke_w,
        }
        return self._add(c, obj, id, persistent, depth, tween_duration, viewer)

    def text(
        self,
        text: str,
        x: float,
        y: float,
        size: float = 16,
        color: ColorLike = "black",
        font: str = "Arial",
        align: str | None = None,
        baseline: str = "top",
        *,
        alignment: str | None = None,
        id: str | int | None = None,
        persistent: bool = False,
        relative: bool = False,
        depth: int = 0,
        tween_duration: float | None = None,
        viewer: str | int | None = None,
    ) -> str:
        """Draw ``text`` (a str, or a number shown as ``str(number)``) at (``x``, ``y``).

        ``size`` is the font size in pixels and ``font`` a CSS font family. ``align``
        (``alignment`` is the same option) says which point of the text ``x`` is: ``"left"``
        (default), ``"center"`` or ``"right"``; ``baseline`` says what ``y`` is: ``"top"``
        (default), ``"middle"``, ``"bottom"``, ``"alphabetic"``, ``"hanging"`` or
        ``"ideographic"``. The default puts the top-left corner of the text at (x, y).
        """
        c = "text"
        if not isinstance(text, str):
            if isinstance(text, bool) or not isinstance(text, int | float):
                raise TypeError(f"text(): text must be a str, got {type(text).__name__} {text!r}")
            text = str(text)
        if align is not None and alignment is not None and align != alignment:
            raise ValueError(f"text(): align={align!r} and alignment={alignment!r} disagree")
        chosen = align if align is not None else alignment if alignment is not None else "left"
        canonical_align = _ALIGNS.get(chosen) if isinstance(chosen, str) else None
        if canonical_align is None:
            raise ValueError(f"text(): align must be 'left', 'center' or 'right', got {chosen!r}")
        if baseline not in _BASELINES:
            raise ValueError(f"text(): baseline must be one of {_BASELINES}, got {baseline!r}")
        if not isinstance(font, str) or not font.strip():
            raise TypeError(f"text(): font must be a non-empty str, got {font!r}")
        font_size = _number(size, c, "size")
        if font_size <= 0:
            raise ValueError(f"text(): size must be a positive number, got {font_size!r}")
        sx, sy = (self._width, self._height) if relative else (1, 1)
        obj = {
            "id": None,
            "type": c,
            "text": text,
            "x": _at(x, c, "x", sx),
            "y": _at(y, c, "y", sy),
            "size": _r2(font_size),
            "color": parse_color(color, c, "color"),
            "font": font,
            "align": canonical_align,
            "baseline": baseline,
        }
        return self._add(c, obj, id, persistent, depth, tween_duration, viewer)

    def image(
        self,
        image_name: str,
        x: float,
        y: float,
        w: float,
        h: float,
        frame: str | int | None = None,
        angle: float = 0,
        *,
        id: str | int | None = None,
        persistent: bool = False,
        relative: bool = False,
        depth: int = 0,
        tween_duration: float | None = None,
        viewer: str | int | None = None,
    ) -> str:
        """Draw a registered image, or one ``frame`` of a registered atlas, in a ``w`` x ``h`` box.

        (``x``, ``y``) is the box's top-left corner; the image is stretched to fill the box and
        rotated ``angle`` degrees clockwise about the box's centre. ``frame`` (a frame name, or
        an int index) is only for atlases; without it the whole atlas image is drawn.
        """
        c = "image"
        asset = self._assets.get(image_name) if isinstance(image_name, str) else None
        if asset is None:
            if not isinstance(image_name, str):
                raise TypeError(f"image(): image_name must be a str, got {image_name!r}")
            known = ", ".join(repr(n) for n in self._assets) or "none"
            raise ValueError(
                f"image(): image_name {image_name!r} is not registered (registered: {known}); "
                "call register_image() or register_atlas() first"
            )
        if frame is not None:
            frame = self._check_frame(image_name, asset, frame)
        sx, sy = (self._width, self._height) if relative else (1, 1)
        obj = {
            "id": None,
            "type": c,
            "image_name": image_name,
            "frame": frame,
            "x": _at(x, c, "x", sx),
            "y": _at(y, c, "y", sy),
            "w": _extent(w, c, "w", sx),
            "h": _extent(h, c, "h", sy),
            "angle": _at(angle, c, "angle"),
        }
        return self._add(c, obj, id, persistent, depth, tween_duration, viewer)

    def _check_frame(self, name: str, asset: Asset, frame: Any) -> str | int:
        if asset["type"] != "atlas":
            raise ValueError(
                f"image(): frame={frame!r} given, but {name!r} is an image, not an atlas"
            )
        if not isinstance(frame, str):
            if isinstance(frame, bool):
                raise TypeError(f"image(): frame must be a str or an int, got {frame!r}")
            try:
                frame = operator.index(frame)
            except TypeError:
                raise TypeError(f"image(): frame must be a str or an int, got {frame!r}") from None
        names = self._frames_of[name]
        if names is None or str(frame) in names:
            return frame
        if isinstance(frame, int) and 0 <= frame < len(names):
            return frame
        close = difflib.get_close_matches(str(frame), names, n=3)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise ValueError(
            f"image(): frame {frame!r} is not in atlas {name!r} ({asset.get('json_path')}, "
            f"{len(names)} frames){hint}"
        )
