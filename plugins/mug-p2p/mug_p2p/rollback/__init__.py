"""GGPO-style rollback engine: pure standard library, the same code in CPython and Pyodide.

See :mod:`mug_p2p.rollback.session` for the caller's loop and :mod:`mug_p2p.rollback.game` for
what to do with each request.
"""

from .checksum import canonical_json_bytes, state_checksum
from .events import (
    ChecksumMismatch,
    ConfirmedFrame,
    DesyncDetected,
    DisconnectFrameAgreed,
    DroppedByPeer,
    Event,
    PeerConnected,
    PeerDisconnected,
    SessionResumed,
    SessionStalled,
    SessionStats,
    WaitRecommended,
)
from .game import ConfirmedStepBuffer, Game, fulfil_requests
from .inputs import Prediction
from .messages import MalformedMessage, PeerMessage, decode_message, encode_message
from .requests import (
    AdvanceFrame,
    GameStateCell,
    InputStatus,
    LoadState,
    Request,
    SaveState,
    Stalled,
)
from .session import P2PSession
from .sync_test import SyncTestSession

__all__ = [
    "AdvanceFrame",
    "ChecksumMismatch",
    "ConfirmedFrame",
    "ConfirmedStepBuffer",
    "DesyncDetected",
    "DisconnectFrameAgreed",
    "DroppedByPeer",
    "Event",
    "Game",
    "GameStateCell",
    "InputStatus",
    "LoadState",
    "MalformedMessage",
    "P2PSession",
    "PeerConnected",
    "PeerDisconnected",
    "PeerMessage",
    "Prediction",
    "Request",
    "SaveState",
    "SessionResumed",
    "SessionStalled",
    "SessionStats",
    "Stalled",
    "SyncTestSession",
    "WaitRecommended",
    "canonical_json_bytes",
    "decode_message",
    "encode_message",
    "fulfil_requests",
    "state_checksum",
]
