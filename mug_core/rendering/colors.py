"""Colour parsing for Surface draw calls (standard library only).

Every colour a draw call accepts is turned into one canonical string before it goes into a
packet, so a renderer only ever sees two spellings:

- ``"#rrggbb"`` (lower-case hex) for an opaque colour;
- ``"rgba(r,g,b,a)"`` (no spaces, ``r``/``g``/``b`` integers 0-255, ``a`` 0-1 with at most three
  decimals) for a translucent one.

Both are valid CSS colours, so a canvas renderer can assign them to ``fillStyle`` unchanged.
"""

from __future__ import annotations

import difflib
import math
import operator
import re
from collections.abc import Sequence

__all__ = ["CSS_COLORS", "ColorLike", "parse_color"]

#: What a draw call accepts as a colour: a name, a hex or ``rgb()`` string, or an RGB(A) sequence.
ColorLike = str | Sequence[float]

# The 148 CSS named colours, as "name hex" pairs; parsed into CSS_COLORS below.
_CSS_TABLE = """
aliceblue f0f8ff antiquewhite faebd7 aqua 00ffff aquamarine 7fffd4 azure f0ffff beige f5f5dc
bisque ffe4c4 black 000000 blanchedalmond ffebcd blue 0000ff blueviolet 8a2be2 brown a52a2a
burlywood deb887 cadetblue 5f9ea0 chartreuse 7fff00 chocolate d2691e coral ff7f50
cornflowerblue 6495ed cornsilk fff8dc crimson dc143c cyan 00ffff darkblue 00008b
darkcyan 008b8b darkgoldenrod b8860b darkgray a9a9a9 darkgreen 006400 darkgrey a9a9a9
darkkhaki bdb76b darkmagenta 8b008b darkolivegreen 556b2f darkorange ff8c00 darkorchid 9932cc
darkred 8b0000 darksalmon e9967a darkseagreen 8fbc8f darkslateblue 483d8b darkslategray 2f4f4f
darkslategrey 2f4f4f darkturquoise 00ced1 darkviolet 9400d3 deeppink ff1493 deepskyblue 00bfff
dimgray 696969 dimgrey 696969 dodgerblue 1e90ff firebrick b22222 floralwhite fffaf0
forestgreen 228b22 fuchsia ff00ff gainsboro dcdcdc ghostwhite f8f8ff gold ffd700
goldenrod daa520 gray 808080 green 008000 greenyellow adff2f grey 808080 honeydew f0fff0
hotpink ff69b4 indianred cd5c5c indigo 4b0082 ivory fffff0 khaki f0e68c lavender e6e6fa
lavenderblush fff0f5 lawngreen 7cfc00 lemonchiffon fffacd lightblue add8e6 lightcoral f08080
lightcyan e0ffff lightgoldenrodyellow fafad2 lightgray d3d3d3 lightgreen 90ee90
lightgrey d3d3d3 lightpink ffb6c1 lightsalmon ffa07a lightseagreen 20b2aa lightskyblue 87cefa
lightslategray 778899 lightslategrey 778899 lightsteelblue b0c4de lightyellow ffffe0
lime 00ff00 limegreen 32cd32 linen faf0e6 magenta ff00ff maroon 800000
mediumaquamarine 66cdaa mediumblue 0000cd mediumorchid ba55d3 mediumpurple 9370db
mediumseagreen 3cb371 mediumslateblue 7b68ee mediumspringgreen 00fa9a mediumturquoise 48d1cc
mediumvioletred c71585 midnightblue 191970 mintcream f5fffa mistyrose ffe4e1 moccasin ffe4b5
navajowhite ffdead navy 000080 oldlace fdf5e6 olive 808000 olivedrab 6b8e23 orange ffa500
orangered ff4500 orchid da70d6 palegoldenrod eee8aa palegreen 98fb98 paleturquoise afeeee
palevioletred db7093 papayawhip ffefd5 peachpuff ffdab9 peru cd853f pink ffc0cb plum dda0dd
powderblue b0e0e6 purple 800080 rebeccapurple 663399 red ff0000 rosybrown bc8f8f
royalblue 4169e1 saddlebrown 8b4513 salmon fa8072 sandybrown f4a460 seagreen 2e8b57
seashell fff5ee sienna a0522d silver c0c0c0 skyblue 87ceeb slateblue 6a5acd slategray 708090
slategrey 708090 snow fffafa springgreen 00ff7f steelblue 4682b4 tan d2b48c teal 008080
thistle d8bfd8 tomato ff6347 turquoise 40e0d0 violet ee82ee wheat f5deb3 white ffffff
whitesmoke f5f5f5 yellow ffff00 yellowgreen 9acd32
"""

_words = _CSS_TABLE.split()
#: CSS colour names (lower case, no spaces) mapped to their canonical ``"#rrggbb"`` spelling.
CSS_COLORS: dict[str, str] = {
    name: "#" + hex_ for name, hex_ in zip(_words[::2], _words[1::2], strict=True)
}
CSS_COLORS["transparent"] = "rgba(0,0,0,0)"
del _words

_HEX_DIGITS = frozenset("0123456789abcdef")
_RGB_FUNCTION = re.compile(r"rgba?\((.*)\)")
_CACHE_LIMIT = 4096
_cache: dict[object, str] = {}


def parse_color(value: object, call: str = "parse_color", arg: str = "color") -> str:
    """Return the canonical spelling of a colour, or raise naming ``call`` and ``arg``.

    Accepted forms:

    - a CSS colour name, any case, spaces and underscores ignored (``"Dark Green"``);
    - ``"#rgb"``, ``"#rgba"``, ``"#rrggbb"``, ``"#rrggbbaa"``;
    - ``"rgb(r, g, b)"`` / ``"rgba(r, g, b, a)"``;
    - a tuple, list or other sequence ``(r, g, b)`` or ``(r, g, b, a)``: ``r``, ``g``, ``b`` are
      0-255 (floats are rounded); alpha ``a`` in 0-1 is a fraction (CSS style) and above 1 up to
      255 is on the 0-255 scale (pygame style), so ``1``, ``1.0`` and ``255`` are all opaque.

    Raises ``TypeError`` for a value of the wrong type and ``ValueError`` for a malformed or
    out-of-range one; messages read like ``"rect(): color 'rde' is not a known colour ..."``.
    """
    key = tuple(value) if type(value) is list else value
    try:
        return _cache[key]
    except (KeyError, TypeError):  # TypeError: unhashable, e.g. a numpy array
        pass
    result = _parse_string(value, call, arg) if isinstance(value, str) else None
    if result is None:
        result = _parse_sequence(value, call, arg)
    try:
        if len(_cache) >= _CACHE_LIMIT:
            _cache.clear()
        _cache[key] = result
    except TypeError:
        pass
    return result


def _format(r: int, g: int, b: int, a: float) -> str:
    if a >= 1.0:
        return f"#{r:02x}{g:02x}{b:02x}"
    alpha = f"{a:.3f}".rstrip("0").rstrip(".")
    return f"rgba({r},{g},{b},{alpha})"


def _parse_string(value: str, call: str, arg: str) -> str:
    text = value.strip().lower()
    if text.startswith("#"):
        digits = text[1:]
        if len(digits) in (3, 4, 6, 8) and _HEX_DIGITS.issuperset(digits):
            if len(digits) <= 4:
                digits = "".join(ch * 2 for ch in digits)
            r, g, b = (int(digits[i : i + 2], 16) for i in (0, 2, 4))
            a = int(digits[6:8], 16) / 255 if len(digits) == 8 else 1.0
            return _format(r, g, b, a)
        raise ValueError(
            f"{call}(): {arg} {value!r} is not a valid hex colour; "
            "use '#rgb', '#rgba', '#rrggbb' or '#rrggbbaa'"
        )
    match = _RGB_FUNCTION.fullmatch(text)
    if match:
        parts = [p for p in re.split(r"[\s,/]+", match.group(1)) if p]
        try:
            numbers = [int(p) if p.isdigit() else float(p) for p in parts]
        except ValueError:
            raise ValueError(
                f"{call}(): {arg} {value!r} must list plain numbers, like 'rgb(255, 0, 0)'"
            ) from None
        return _parse_sequence(numbers, call, arg, shown=value)
    name = text.replace(" ", "").replace("_", "")
    hex_ = CSS_COLORS.get(name)
    if hex_ is not None:
        return hex_
    close = difflib.get_close_matches(name, CSS_COLORS, n=3)
    hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
    raise ValueError(
        f"{call}(): {arg} {value!r} is not a known colour{hint}; use a CSS colour name, "
        "'#rrggbb', '#rgb' or an (r, g, b) tuple"
    )


def _parse_sequence(value: object, call: str, arg: str, shown: object = None) -> str:
    shown = value if shown is None else shown
    if isinstance(value, bytes | bytearray | dict | set | frozenset) or not hasattr(
        value, "__iter__"
    ):
        raise TypeError(
            f"{call}(): {arg} must be a colour name, a '#rrggbb' string or an (r, g, b) "
            f"tuple, got {type(value).__name__} {value!r}"
        )
    items = list(value)  # type: ignore[call-overload]
    if len(items) not in (3, 4):
        raise ValueError(
            f"{call}(): {arg} must have 3 (r, g, b) or 4 (r, g, b, a) components, got {shown!r}"
        )
    numbers: list[float] = []
    all_float = True
    for item in items:
        if isinstance(item, bool | str | bytes):
            raise TypeError(f"{call}(): {arg} components must be numbers, got {shown!r}")
        try:
            number: float = operator.index(item)
            if len(numbers) < 3:
                all_float = False
        except TypeError:
            try:
                number = float(item)
            except (TypeError, ValueError):
                raise TypeError(
                    f"{call}(): {arg} components must be numbers, got {shown!r}"
                ) from None
        if not math.isfinite(number) or number < 0:
            raise ValueError(f"{call}(): {arg} components must be 0-255, got {shown!r}")
        numbers.append(number)
    rgb = numbers[:3]
    if max(rgb) > 255:
        raise ValueError(f"{call}(): {arg} components must be 0-255, got {shown!r}")
    if all_float and 0 < max(rgb) <= 1:
        raise ValueError(
            f"{call}(): {arg} {shown!r} looks like 0-1 floats; colours are 0-255 (multiply by 255)"
        )
    alpha = 1.0
    if len(numbers) == 4:
        alpha = numbers[3]
        if alpha > 255:
            raise ValueError(f"{call}(): {arg} alpha must be 0-1 or 0-255, got {shown!r}")
        if alpha > 1:
            alpha /= 255
    r, g, b = (round(n) for n in rgb)
    return _format(r, g, b, alpha)
