"""``OnnxPolicy``: a ``ModelConfig`` run with onnxruntime, choosing actions exactly like the
browser's ``onnx_policy.js``.

One inference, and what both sides do around it (the JS twin follows the same steps):

1. **Flatten** the observation (:func:`mug_onnx.preprocess.flatten_observation`) and shape it
   for ``obs_input`` (:func:`feed_shape`: its declared shape, with a dynamic batch dimension
   set to 1).
2. **Run** the model with the observation, the ``fixed_inputs`` (as given, in the input's
   declared element type) and, for recurrent models, the current state (zeros of
   ``state_shape`` at each episode start; each ``state_outputs[i]`` becomes the next
   ``state_inputs[i]``).
3. **Select** an action from the ``logit_output`` values (:func:`select_action`): ``argmax``
   takes the first largest logit; ``sample`` draws one ``u`` from the policy's
   :class:`Mulberry32` generator and picks from ``softmax(logits / temperature)``.

**Cadence.** Steps are counted from the episode start; at steps ``0, N, 2N, ...``
(``act_every=N``) the policy infers, in between it repeats its last action
(``between="repeat"``) or plays the scene's default action (``between="default"``) and
touches neither the model, the state nor the generator.

**Seeding.** ``reset(episode)`` seeds the generator with
``(seed + episode * 0x9E3779B9) mod 2**32``, so any recorded episode replays on its own,
given the policy seed of the scene (``client_spec``'s ``policies[agent]["seed"]``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mug_core.configurations.configuration_constants import ModelConfig
from mug_onnx.preprocess import flatten_observation

UINT32 = 0xFFFFFFFF
EPISODE_STRIDE = 0x9E3779B9
"""Added to the policy seed once per episode index (the golden-ratio constant)."""

ORT_DTYPES: dict[str, Any] = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(float16)": np.float16,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(int16)": np.int16,
    "tensor(int8)": np.int8,
    "tensor(uint64)": np.uint64,
    "tensor(uint32)": np.uint32,
    "tensor(uint16)": np.uint16,
    "tensor(uint8)": np.uint8,
    "tensor(bool)": np.bool_,
}
"""onnxruntime's input type names and the numpy dtypes fed to them."""


class Mulberry32:
    """The 32-bit generator ``mulberry32`` (Tommy Ettinger), bit-identical to the JS twin.

    State: one uint32, initially ``seed mod 2**32``. Each draw::

        state = (state + 0x6D2B79F5) mod 2**32
        t = imul(state ^ (state >> 15), state | 1)
        t = ((t + imul(t ^ (t >> 7), t | 61)) mod 2**32) ^ t
        return t ^ (t >> 14)                       # a uint32

    where ``imul`` is the low 32 bits of the product (JS ``Math.imul``). :meth:`random` is
    ``next_uint32() / 2**32``, a float in [0, 1).
    """

    def __init__(self, seed: int) -> None:
        self.state = int(seed) & UINT32

    def next_uint32(self) -> int:
        """The next raw uint32 output."""
        self.state = (self.state + 0x6D2B79F5) & UINT32
        a = self.state
        t = ((a ^ (a >> 15)) * (a | 1)) & UINT32
        t = ((t + (((t ^ (t >> 7)) * (t | 61)) & UINT32)) & UINT32) ^ t
        return (t ^ (t >> 14)) & UINT32

    def random(self) -> float:
        """A float in [0, 1): ``next_uint32() / 2**32``."""
        return self.next_uint32() / 4294967296.0


def episode_seed(seed: int, episode: int) -> int:
    """The generator seed of ``episode``: ``(seed + episode * 0x9E3779B9) mod 2**32``."""
    return (int(seed) + int(episode) * EPISODE_STRIDE) & UINT32


_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00
_EXP_COEFFS = tuple(1.0 / math.factorial(n) for n in range(13, 0, -1))  # 1/13!, ..., 1/1!


def exp64(x: float) -> float:
    """``exp(x)`` for ``x <= 0`` from ``+ - * /`` only, so Python and JS agree to the bit.

    ``math.exp`` and ``Math.exp`` may differ in the last bit; this one is the same everywhere:
    ``x = k*ln2 + r`` (Cody-Waite, ``k = floor(x/ln2 + 0.5)``), a degree-13 Taylor polynomial
    of ``exp(r)`` in Horner form (1/n! computed as ``1/n!`` in float64), scaled by ``2**k``.
    Accurate to about 1 ulp; returns 0.0 below -700 (and for -inf).
    """
    if not x >= -700.0:
        return 0.0
    k = math.floor(x * _INV_LN2 + 0.5)
    r = (x - k * _LN2_HI) - k * _LN2_LO
    p = 0.0
    for c in _EXP_COEFFS:
        p = (p + c) * r
    return (p + 1.0) * math.ldexp(1.0, k)


def select_action(
    logits: Sequence[float] | np.ndarray, selection: str, temperature: float, u: float | None
) -> int:
    """The action for ``logits`` (float32 values, compared and exponentiated in float64).

    ``argmax``: the first index of the largest logit (``u`` is ignored). ``sample``: with
    ``z_i = logit_i / temperature``, ``m = max z``, ``e_i = exp64(z_i - m)`` and
    ``S = e_0 + ... + e_{n-1}`` (summed left to right), the first ``i`` whose running sum
    ``e_0 + ... + e_i`` exceeds ``u * S``. Raises ``ValueError`` for NaN logits, or when
    every logit is -inf.
    """
    values = [float(v) for v in np.asarray(logits, dtype=np.float64).reshape(-1)]
    if not values or any(math.isnan(v) for v in values):
        raise ValueError(f"the model returned logits that cannot be used: {values}")
    if selection == "argmax":
        best = 0
        for i, v in enumerate(values):
            if v > values[best]:
                best = i
        return best
    if selection != "sample":
        raise ValueError(f"unknown selection {selection!r}: use 'sample' or 'argmax'")
    if u is None:
        raise ValueError("sampling needs a uniform draw u in [0, 1)")
    z = [v / temperature for v in values]
    m = max(z)
    if m == -math.inf or math.isnan(m) or m == math.inf:
        raise ValueError(f"cannot sample from logits {values} at temperature {temperature}")
    weights = [exp64(v - m) for v in z]
    total = 0.0
    for w in weights:
        total += w
    threshold = u * total
    running = 0.0
    for i, w in enumerate(weights):
        running += w
        if running > threshold:
            return i
    return max(i for i, w in enumerate(weights) if w > 0.0)  # not reached for u < 1


def feed_shape(declared: Sequence[Any] | None, count: int) -> tuple[int, ...]:
    """The shape to feed ``count`` flattened values to an input declared as ``declared``.

    Dimensions that are not positive ints are dynamic. A dynamic first dimension of a rank-2+
    input is the batch: 1. One remaining dynamic dimension takes whatever makes the element
    count ``count``. Raises ``ValueError`` when no such shape exists. An input with no
    declared shape gets ``[1, count]``.
    """
    dims = list(declared or ())
    if not dims:
        return (1, count)
    shape: list[int | None] = [d if isinstance(d, int) and d > 0 else None for d in dims]
    if len(shape) >= 2 and shape[0] is None:
        shape[0] = 1
    unknown = [i for i, d in enumerate(shape) if d is None]
    known = math.prod(d for d in shape if d is not None)
    if len(unknown) > 1:
        raise ValueError(f"input shape {dims} has more than one dynamic dimension besides batch")
    if unknown:
        if known == 0 or count % known:
            raise ValueError(f"{count} observation values do not fit input shape {dims}")
        shape[unknown[0]] = count // known
    elif known != count:
        raise ValueError(f"{count} observation values do not fit input shape {dims}")
    return tuple(int(d) for d in shape if d is not None)


def create_session(onnx_path: str | Path) -> Any:
    """An onnxruntime CPU session with one thread (small policies run fastest that way)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(
        str(onnx_path), sess_options=options, providers=["CPUExecutionProvider"]
    )


class OnnxPolicy:
    """A ``ModelConfig`` policy run with onnxruntime on the server (or in a test).

    Args:
        config: the study's ``ModelConfig``.
        action_space_n: the agent's ``Discrete`` action count; the logits must have this many
            values.
        seed: the policy seed (the scene gives each agent one); see :meth:`reset`.
        default_action: played between inferences when ``between="default"``.
        session: an existing ``onnxruntime.InferenceSession`` for ``config.onnx_path`` to share.

    ``act(observation)`` once per env step returns the action; call ``reset()`` at each episode
    start. The same observations, seed and episode index give the same actions as
    ``loadOnnxPolicy`` in the browser.
    """

    def __init__(
        self,
        config: ModelConfig,
        action_space_n: int,
        seed: int = 0,
        default_action: int = 0,
        session: Any = None,
    ) -> None:
        self.config = config
        self.action_space_n = int(action_space_n)
        self.seed = int(seed)
        self.default_action = int(default_action)
        self.session = session if session is not None else create_session(config.onnx_path)
        self._inputs = {i.name: i for i in self.session.get_inputs()}
        missing = [
            name
            for name in (config.obs_input, *config.state_inputs, *config.fixed_inputs)
            if name not in self._inputs
        ]
        if missing:
            raise ValueError(
                f"{config.onnx_path}: no input(s) {missing}; the model's inputs are "
                f"{list(self._inputs)}"
            )
        self._fixed = {
            name: np.asarray(value, dtype=self._dtype(name))
            for name, value in config.fixed_inputs.items()
        }
        self._fetches = [config.logit_output, *config.state_outputs]
        self._obs_shapes: dict[int, tuple[int, ...]] = {}
        self._next_episode = 0
        self._begin(0)

    def _dtype(self, name: str) -> Any:
        kind = self._inputs[name].type
        if kind not in ORT_DTYPES:
            raise ValueError(f"input {name!r} has type {kind}, which MUG cannot feed")
        return ORT_DTYPES[kind]

    def _begin(self, episode: int) -> None:
        config = self.config
        self.episode = episode
        self.rng = Mulberry32(episode_seed(self.seed, episode))
        self.step = 0
        self.last_action = self.default_action
        self.state = {
            name: np.zeros(config.state_shape or (), dtype=self._dtype(name))
            for name in config.state_inputs
        }

    def reset(self, episode: int | None = None) -> None:
        """Start an episode: zero the recurrent state, restart the cadence and reseed the
        generator for ``episode`` (by default, one more than the previous reset's; the first
        reset is episode 0, so a resumed participant passes the number of episodes done)."""
        episode = self._next_episode if episode is None else int(episode)
        self._begin(episode)
        self._next_episode = episode + 1

    def _feeds(self, observation: Any) -> dict[str, np.ndarray]:
        flat = flatten_observation(observation)
        shape = self._obs_shapes.get(flat.size)
        if shape is None:
            shape = feed_shape(self._inputs[self.config.obs_input].shape, flat.size)
            self._obs_shapes[flat.size] = shape
        return {self.config.obs_input: flat.reshape(shape), **self._fixed, **self.state}

    def _run(self, observation: Any) -> tuple[np.ndarray, list[np.ndarray]]:
        outputs = self.session.run(self._fetches, self._feeds(observation))
        logits = np.asarray(outputs[0]).reshape(-1)
        if logits.size != self.action_space_n:
            raise ValueError(
                f"{self.config.logit_output!r} has {logits.size} values, but the action space "
                f"has {self.action_space_n} actions"
            )
        return logits, outputs[1:]

    def logits(self, observation: Any) -> np.ndarray:
        """The model's logits for ``observation`` with the current state; changes nothing."""
        return self._run(observation)[0]

    def act(self, observation: Any) -> int:
        """The action for this step (inferring, or repeating/defaulting per the cadence)."""
        config = self.config
        if self.step % config.act_every == 0:
            logits, states = self._run(observation)
            u = self.rng.random() if config.selection == "sample" else None
            self.last_action = select_action(logits, config.selection, config.temperature, u)
            for name, value in zip(config.state_inputs, states, strict=True):
                self.state[name] = np.asarray(value)
            action = self.last_action
        else:
            action = self.last_action if config.between == "repeat" else self.default_action
        self.step += 1
        return action


__all__ = [
    "Mulberry32",
    "OnnxPolicy",
    "create_session",
    "episode_seed",
    "exp64",
    "feed_shape",
    "select_action",
]
