"""Drawing for env authors: ``Surface`` and the render packets it produces.

Standard library only: this package is also imported inside Pyodide in the browser.
See ``docs/surface.md`` for the reference.
"""

from .colors import CSS_COLORS, ColorLike, parse_color
from .packets import PACKET_VERSION, Asset, Packet, Scene, apply_packet
from .surface import Surface

__all__ = [
    "CSS_COLORS",
    "PACKET_VERSION",
    "Asset",
    "ColorLike",
    "Packet",
    "Scene",
    "Surface",
    "apply_packet",
    "parse_color",
]
