"""Render packets: their format, the recorder that writes them, and a reference reader.

``Surface.commit()`` returns a :class:`Packet`: a plain, JSON-serialisable dict holding only what
changed since the previous commit. ``docs/surface.md`` describes every field; the ``TypedDict``
classes below are the same description for type checkers. :func:`apply_packet` is the reference
for what a renderer must do with a packet; the browser's canvas renderer follows the same rules,
and the tests use it to check that a chain of deltas always rebuilds the full scene.

``_Recorder`` is the half of ``Surface`` that is not drawing: assets, object ids, and turning
each frame into a delta packet. Standard library only (this also runs inside Pyodide).
"""

from __future__ import annotations

import json
import operator
import os
from typing import Any, NotRequired, TypedDict

__all__ = ["PACKET_VERSION", "Asset", "Packet", "Scene", "apply_packet", "atlas_frame_names"]

_Entry = tuple[dict[str, Any], int, bool]  # (wire object, depth, persistent)

#: Version of the packet layout; bumped when a renderer would need to change.
PACKET_VERSION = 1


class Asset(TypedDict):
    """An image or atlas registered on a Surface, as listed in a packet's ``assets``."""

    name: str
    type: str  # "image" or "atlas"
    path: str  # the image file, as given to register_image()/register_atlas()
    json_path: NotRequired[str]  # atlases only: the TexturePacker-style JSON of frames


class Packet(TypedDict):
    """What ``Surface.commit()`` returns. Objects are dicts whose keys depend on ``type``."""

    version: int
    seq: int
    clear: bool
    width: int
    height: int
    assets: list[Asset]
    objects: list[dict[str, Any]]
    removed: list[str]
    order: list[str] | None


class Scene(TypedDict):
    """What a renderer holds between packets (see :func:`apply_packet`)."""

    seq: int
    width: int
    height: int
    assets: dict[str, Asset]
    objects: dict[str, dict[str, Any]]
    order: list[str]


def apply_packet(scene: Scene | None, packet: Packet) -> Scene:
    """Apply ``packet`` to ``scene`` (``None`` for a new renderer) and return the new scene.

    These are the rules a renderer follows:

    1. Reject a packet whose ``version`` it does not know.
    2. If ``clear`` is true, drop every object (assets it already loaded may be kept) and take
       ``width``/``height``. Otherwise the packet must be the next one: ``seq`` one more than the
       last packet applied; on a gap, ask the producer for a full packet (``Surface.snapshot()``).
    3. Load each entry of ``assets`` not already loaded under that name.
    4. Delete each id in ``removed``; then store each object of ``objects`` under its ``id``,
       replacing any object with that id entirely.
    5. If ``order`` is not null it is the complete list of live ids in paint order (first is
       painted first, so last is on top); otherwise the previous order stands.

    The scene is updated in place (and returned); ``ValueError`` reports a packet that cannot be
    applied.
    """
    if packet.get("version") != PACKET_VERSION:
        raise ValueError(
            f"apply_packet(): packet version {packet.get('version')!r} is not {PACKET_VERSION}"
        )
    if scene is None or packet["clear"]:
        assets = {} if scene is None else scene["assets"]
        scene = Scene(seq=0, width=0, height=0, assets=assets, objects={}, order=[])
    elif packet["seq"] != scene["seq"] + 1:
        raise ValueError(
            f"apply_packet(): packet seq {packet['seq']} does not follow {scene['seq']}; "
            "a full packet (clear=True) is needed"
        )
    scene["seq"] = packet["seq"]
    scene["width"] = packet["width"]
    scene["height"] = packet["height"]
    for asset in packet["assets"]:
        scene["assets"].setdefault(asset["name"], asset)
    objects = scene["objects"]
    for object_id in packet["removed"]:
        objects.pop(object_id, None)
    for obj in packet["objects"]:
        objects[obj["id"]] = obj
    if packet["order"] is not None:
        scene["order"] = list(packet["order"])
    missing = [i for i in scene["order"] if i not in objects]
    if missing or len(scene["order"]) != len(objects):
        raise ValueError(
            f"apply_packet(): order and objects disagree (ids without object: {missing[:5]})"
        )
    return scene


def atlas_frame_names(data: object) -> frozenset[str] | None:
    """Frame names of a TexturePacker-style atlas JSON document, or ``None`` if unrecognised.

    Understands the "hash" layout (``{"frames": {"name": {...}}}``), the "array" layout
    (``{"frames": [{"filename": "name", ...}]}``) and Phaser's multi-atlas layout
    (``{"textures": [{"frames": [...]}, ...]}``).
    """
    if not isinstance(data, dict):
        return None
    frame_lists: list[object] = [data.get("frames")]
    textures = data.get("textures")
    if isinstance(textures, list):
        frame_lists += [t.get("frames") for t in textures if isinstance(t, dict)]
    names: set[str] = set()
    recognised = False
    for frames in frame_lists:
        if isinstance(frames, dict):
            recognised = True
            names.update(str(name) for name in frames)
        elif isinstance(frames, list):
            recognised = True
            names.update(
                str(f["filename"]) for f in frames if isinstance(f, dict) and "filename" in f
            )
    return frozenset(names) if recognised else None


def _number(value: Any, call: str, arg: str) -> Any:
    """``value`` as a finite int or float (numpy scalars accepted), not rounded."""
    kind = type(value)
    if kind is int:
        return value
    if kind is not float:
        if isinstance(value, bool | str | bytes):
            raise TypeError(f"{call}(): {arg} must be a number, got {kind.__name__} {value!r}")
        if hasattr(kind, "__index__"):  # numpy integers; checked first to keep them ints
            return operator.index(value)
        try:
            value = float(value)  # numpy floats, Decimal, Fraction
        except (TypeError, ValueError):
            raise TypeError(
                f"{call}(): {arg} must be a number, got {kind.__name__} {value!r}"
            ) from None
    if value - value != 0.0:  # only NaN and the infinities fail this
        raise ValueError(f"{call}(): {arg} must be a finite number, got {value!r}")
    return value


def _size(value: Any, call: str, arg: str) -> Any:
    value = _number(value, call, arg)
    if value < 0:
        raise ValueError(f"{call}(): {arg} must be a non-negative number, got {value!r}")
    return value


def _object_id(value: Any, call: str, arg: str = "id") -> str:
    """An explicit id (or agent id, for ``arg="viewer"``) as a string; ints are accepted and
    turned into strings."""
    if isinstance(value, str):
        if not value:
            raise ValueError(f"{call}(): {arg} must not be empty")
        if value[0] == "~" and arg == "id":
            raise ValueError(
                f"{call}(): id {value!r} starts with '~', which is reserved for automatic ids"
            )
        return value
    if not isinstance(value, bool):
        try:
            return str(operator.index(value))
        except TypeError:
            pass
    raise TypeError(
        f"{call}(): {arg} must be a str or an int, got {type(value).__name__} {value!r}"
    )


def _path(value: Any, call: str, arg: str) -> str:
    try:
        path = os.fspath(value)
    except TypeError:
        path = None
    if not isinstance(path, str) or not path:
        raise TypeError(f"{call}(): {arg} must be a non-empty str or os.PathLike, got {value!r}")
    return path


class _Recorder:
    """Assets, ids and frame-to-packet deltas; ``Surface`` adds the draw calls."""

    __slots__ = (
        "_anon",
        "_assets",
        "_clear",
        "_frame",
        "_frames_of",
        "_height",
        "_live",
        "_new_assets",
        "_order",
        "_removals",
        "_seq",
        "_width",
    )

    def __init__(self, width: int, height: int) -> None:
        for arg, value in (("width", width), ("height", height)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"Surface(): {arg} must be an int, got {value!r}")
            if value <= 0:
                raise ValueError(f"Surface(): {arg} must be a positive int, got {value!r}")
        self._width = width
        self._height = height
        self._assets: dict[str, Asset] = {}
        self._frames_of: dict[str, frozenset[str] | None] = {}
        self._new_assets: list[Asset] = []
        self._frame: dict[str, _Entry] = {}  # drawn since the last commit, in call order
        self._live: dict[str, _Entry] = {}  # what the last commit left on the client
        self._order: list[str] = []  # paint order of _live
        self._removals: set[str] = set()
        self._anon: dict[str, int] = {}
        self._seq = 0
        self._clear = True

    @property
    def width(self) -> int:
        """Width in pixels (the unit of every coordinate unless ``relative=True``)."""
        return self._width

    @property
    def height(self) -> int:
        """Height in pixels."""
        return self._height

    def __repr__(self) -> str:
        return (
            f"Surface({self._width}x{self._height}, {len(self._live)} objects committed, "
            f"{len(self._frame)} drawn since)"
        )

    # -- assets -------------------------------------------------------------------------------

    def register_image(self, name: str, path: str | os.PathLike[str]) -> None:
        """Register the image file ``path`` under ``name`` for ``image(image_name=name)``.

        The next packet lists it in ``assets``. Registering the same name and path again does
        nothing; the same name with another path is a ``ValueError``.
        """
        call = "register_image"
        asset = Asset(
            name=self._asset_name(name, call), type="image", path=_path(path, call, "path")
        )
        self._register(call, asset, None)

    def register_atlas(
        self, name: str, img_path: str | os.PathLike[str], json_path: str | os.PathLike[str]
    ) -> None:
        """Register a sprite atlas: the image ``img_path`` cut into frames by ``json_path``.

        ``json_path`` is a TexturePacker-style JSON file (hash, array or Phaser multi-atlas
        layout). If it exists here, it is read now so that ``image(frame=...)`` can reject
        unknown frame names; otherwise frames are not checked.
        """
        call = "register_atlas"
        json_file = _path(json_path, call, "json_path")
        asset = Asset(
            name=self._asset_name(name, call),
            type="atlas",
            path=_path(img_path, call, "img_path"),
            json_path=json_file,
        )
        frames = None
        if os.path.isfile(json_file):
            try:
                with open(json_file, encoding="utf-8") as f:
                    frames = atlas_frame_names(json.load(f))
            except (OSError, ValueError) as e:
                raise ValueError(
                    f"{call}(): json_path {json_file!r} is not readable JSON: {e}"
                ) from e
        self._register(call, asset, frames)

    @staticmethod
    def _asset_name(name: Any, call: str) -> str:
        if not isinstance(name, str) or not name:
            raise TypeError(f"{call}(): name must be a non-empty str, got {name!r}")
        return name

    def _register(self, call: str, asset: Asset, frames: frozenset[str] | None) -> None:
        old = self._assets.get(asset["name"])
        if old == asset:
            return
        if old is not None:
            raise ValueError(
                f"{call}(): name {asset['name']!r} is already registered as {old['type']} "
                f"{old['path']!r}; pick another name"
            )
        self._assets[asset["name"]] = asset
        self._frames_of[asset["name"]] = frames
        self._new_assets.append(asset)

    def _add(
        self,
        call: str,
        obj: dict[str, Any],
        id: Any,
        persistent: bool,
        depth: Any,
        tween: Any,
        viewer: Any = None,
    ) -> str:
        if type(depth) is not int:
            if isinstance(depth, bool):
                raise TypeError(f"{call}(): depth must be an int, got {depth!r}")
            try:
                depth = operator.index(depth)
            except TypeError:
                raise TypeError(
                    f"{call}(): depth must be an int, got {type(depth).__name__} {depth!r}"
                ) from None
        tween = 0 if tween is None else round(_size(tween, call, "tween_duration"), 2)
        if viewer is not None:
            viewer = _object_id(viewer, call, "viewer")
        if id is None:
            if persistent:
                raise ValueError(f"{call}(): persistent=True requires an id")
            n = self._anon.get(call, 0)
            self._anon[call] = n + 1  # only once every argument has been accepted
            object_id = f"~{call}{n}"
        elif type(id) is str and id and id[0] != "~":
            object_id = id
        else:
            object_id = _object_id(id, call)
        obj["id"] = object_id
        obj["tween"] = tween
        if viewer is not None:
            obj["viewer"] = viewer
        frame = self._frame
        if object_id in frame:  # drawn twice this frame: the last call wins, in its call place
            del frame[object_id]
        frame[object_id] = (obj, depth, bool(persistent))
        return object_id

    # -- frame lifecycle ----------------------------------------------------------------------

    def remove(self, id: str | int) -> bool:
        """Remove the object ``id`` (persistent or not) in the next packet.

        Returns whether there was such an object; removing an unknown id does nothing.
        """
        object_id = id if isinstance(id, str) else _object_id(id, "remove")
        found = self._frame.pop(object_id, None) is not None
        if object_id in self._live:
            self._removals.add(object_id)
            found = True
        return found

    def reset(self) -> None:
        """Forget every object; the next packet has ``clear: true`` and lists all assets.

        Registered assets stay registered. Call it when an episode starts.
        """
        self._frame = {}
        self._live = {}
        self._order = []
        self._removals.clear()
        self._anon.clear()
        self._clear = True

    def commit(self) -> Packet:
        """End the frame and return its packet: only what changed since the last commit.

        The packet is JSON-serialisable; its object dicts are shared with this Surface, so treat
        them as read-only. ``docs/surface.md`` describes every field.
        """
        frame = self._frame
        live = self._live
        removals = self._removals
        previous = self._order
        removed: list[str] = []
        keys: list[tuple[int, int, int, str]] = []
        for index, object_id in enumerate(previous):
            if object_id in frame:
                continue
            _, depth, persistent = live[object_id]
            if persistent and object_id not in removals:
                keys.append((depth, 0, index, object_id))
            else:
                removed.append(object_id)
                del live[object_id]
        changed: list[dict[str, Any]] = []
        for index, (object_id, entry) in enumerate(frame.items()):
            old = live.get(object_id)
            if old is None or old[0] != entry[0]:
                changed.append(entry[0])
            live[object_id] = entry
            keys.append((entry[1], 1, index, object_id))
        keys.sort()
        order = [key[3] for key in keys]
        clear = self._clear
        order_out: list[str] | None = None
        if clear or order != previous:
            self._order = order
            order_out = list(order)
        if clear:
            assets = [a.copy() for a in self._assets.values()]
        else:
            assets = [a.copy() for a in self._new_assets]
        self._new_assets = []
        self._frame = {}
        self._anon.clear()
        removals.clear()
        self._clear = False
        self._seq += 1
        return Packet(
            version=PACKET_VERSION,
            seq=self._seq,
            clear=clear,
            width=self._width,
            height=self._height,
            assets=assets,
            objects=changed,
            removed=removed,
            order=order_out,
        )

    def snapshot(self) -> Packet:
        """A full packet (``clear: true``) of the state the last ``commit()`` left.

        Send it to a renderer that joins late or missed a packet; it does not affect what the
        next ``commit()`` contains. Its ``seq`` is that of the last commit, so the next commit's
        packet applies on top of it.
        """
        live = self._live
        return Packet(
            version=PACKET_VERSION,
            seq=self._seq,
            clear=True,
            width=self._width,
            height=self._height,
            assets=[a.copy() for a in self._assets.values()],
            objects=[live[i][0] for i in self._order],
            removed=[],
            order=list(self._order),
        )
