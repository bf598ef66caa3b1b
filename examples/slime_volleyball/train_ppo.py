"""Train a Slime Volleyball policy with PPO against the heuristic and export ``policy.onnx``.

Run from anywhere (CPU only, about 10 minutes on 2 cores)::

    pip install torch==2.13.0 onnx          # the CPU build; torch is needed only here
    python examples/slime_volleyball/train_ppo.py

What it does:

* **Env.** ``SlimeVolleyballEnv`` at 30 fps, 5 points to win, 3000 frames at most, in pure
  Python; ``--envs`` copies are stepped in a loop. The learner plays a random side each episode
  (observations are mirrored, so both sides look the same to it) against ``SlimeHeuristic``,
  which acts every frame. The learner acts every ``--frame-skip`` frames and repeats its action
  in between: deploy it with ``ModelConfig(..., act_every=<frame skip>, between="repeat")``.
* **Reward.** +1 per point won, -1 per point lost, plus ``--return-bonus`` each time the
  learner sends the ball over the net (shaping, so it learns to return the ball early on).
  The curve reports the unshaped score.
* **Model.** An MLP actor (13 -> 64 -> 64 -> 6, tanh) on observations scaled to about [-1, 1],
  with a separate critic of the same size. The actor reasons in its own (egocentric)
  directions; a fixed permutation turns them into screen actions for the right-hand player
  (``obs[12] < 0``), inside the model, so the exported graph takes the raw 13-float observation
  and returns logits over the env's screen actions for either side.
* **PPO.** Clipped objective, GAE(lambda), advantage normalisation, value loss, entropy bonus,
  gradient clipping, linear learning-rate decay; seeded (``--seed``).
* **Outputs** (beside this file): ``training_curve.csv`` (one row per update: timesteps,
  frames, wall time and, over the last 50 episodes, points for and against, score difference,
  win rate (reached 5 points first), ahead rate (more points when the episode ended, also by
  truncation), episode length, ball returns and touches per point, policy entropy),
  ``training_curve.png`` when matplotlib is installed, ``policy.onnx`` with input ``obs``
  ``[batch, 13]`` float32 and output ``logits`` ``[batch, 6]``, and a final evaluation of the
  exported actor (``--eval-episodes`` fresh episodes, sampling and argmax) on stdout.
"""

from __future__ import annotations

import argparse
import csv
import math
import random
import sys
import time
import warnings
from collections import deque
from pathlib import Path

import numpy as np
import torch
from torch import nn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from heuristic import SlimeHeuristic  # noqa: E402
from slime_env import (  # noqa: E402
    AGENTS,
    BALL_RADIUS,
    COURT_HALF_WIDTH,
    LEFT_AGENT,
    NET_HALF_WIDTH,
    OBS_SIZE,
    SLIME_RADIUS,
    SlimeVolleyballEnv,
)

N_ACTIONS = 6
MIRROR = [0, 2, 1, 3, 5, 4]  # swap LEFT<->RIGHT and LEFT+JUMP<->RIGHT+JUMP
OBS_SCALE = [1 / 24, 1 / 12, 1 / 30, 1 / 30] * 3 + [1.0]


class Actor(nn.Module):
    """Raw observation ``[batch, 13]`` -> screen-action logits ``[batch, 6]``."""

    def __init__(self, hidden: int = 64) -> None:
        super().__init__()
        self.register_buffer("scale", torch.tensor(OBS_SCALE, dtype=torch.float32))
        self.register_buffer("mirror", torch.tensor(MIRROR, dtype=torch.int64))
        self.body = nn.Sequential(
            nn.Linear(OBS_SIZE, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh()
        )
        self.head = nn.Linear(hidden, N_ACTIONS)
        for layer in (*self.body[::2], self.head):
            nn.init.orthogonal_(layer.weight, gain=0.01 if layer is self.head else 2**0.5)
            nn.init.zeros_(layer.bias)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        ego = self.head(self.body(obs * self.scale))
        return torch.where(obs[:, 12:13] >= 0, ego, ego.index_select(1, self.mirror))


class Critic(nn.Module):
    """Raw observation -> state value."""

    def __init__(self, hidden: int = 64) -> None:
        super().__init__()
        self.register_buffer("scale", torch.tensor(OBS_SCALE, dtype=torch.float32))
        self.net = nn.Sequential(
            nn.Linear(OBS_SIZE, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
            nn.Linear(hidden, 1),
        )  # fmt: skip

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs * self.scale).squeeze(-1)


class Match:
    """One env with the heuristic opponent; the learner's side is drawn per episode."""

    def __init__(self, seed: int, frame_skip: int, shaping: dict[str, float]) -> None:
        self.env = SlimeVolleyballEnv(
            points_to_win=5, max_steps=3000, fps=30, render_mode=None, use_gymnasium_spaces=False
        )
        self.rng = random.Random(seed)
        self.opponent = SlimeHeuristic()
        self.frame_skip = frame_skip
        self.shaping = shaping
        self.seed = seed
        self.first = True
        self.reset()

    def reset(self) -> list[float]:
        observations, _ = self.env.reset(seed=self.seed if self.first else None)
        self.first = False
        self.me = self.rng.choice(AGENTS)
        self.other = AGENTS[1] if self.me == LEFT_AGENT else AGENTS[0]
        self.obs = observations
        self.score = [0, 0]
        self.returns = self.touches = 0
        self.touching = False
        return observations[self.me]

    def potential(self, obs: list[float]) -> float:
        """Shaping potential: minus the (scaled) distance to the ball's x, kept on our half."""
        target = min(max(obs[4], -COURT_HALF_WIDTH), -NET_HALF_WIDTH - SLIME_RADIUS)
        return -self.shaping["track"] * abs(obs[0] - target) / COURT_HALF_WIDTH

    def step(self, action: int) -> tuple[list[float], float, bool, bool, dict | None]:
        """Play ``action`` for ``frame_skip`` frames: ``(obs, reward, terminated, truncated,
        episode summary or None)``; after the episode ends ``obs`` is the final observation."""
        reward = 0.0
        terminated = truncated = False
        shaping = self.shaping
        start_potential = self.potential(self.obs[self.me])
        for _ in range(self.frame_skip):
            before = self.obs[self.me][4]
            actions = {self.me: action, self.other: self.opponent(self.obs[self.other])}
            self.obs, rewards, terms, truncs, _ = self.env.step(actions)
            point = rewards[self.me]
            if point > 0:
                self.score[0] += 1
            elif point < 0:
                self.score[1] += 1
            mine = self.obs[self.me]
            if before < 0.0 < mine[4]:
                self.returns += 1
                reward += shaping["return"]
            gap = math.hypot(mine[4] - mine[0], mine[5] - mine[1]) - SLIME_RADIUS - BALL_RADIUS
            if gap < 1e-6 and not self.touching:
                self.touches += 1
                reward += shaping["touch"]
            self.touching = gap < 0.2
            reward += point
            terminated, truncated = terms[self.me], truncs[self.me]
            if terminated or truncated:
                break
        end_potential = 0.0 if terminated or truncated else self.potential(self.obs[self.me])
        reward += shaping["gamma"] * end_potential - start_potential
        summary = None
        if terminated or truncated:
            won, lost = self.score
            summary = {
                "points_for": won, "points_against": lost, "diff": won - lost,
                "win": float(won > lost and terminated), "ahead": float(won > lost),
                "frames": self.env.get_state()["step"],
            }  # fmt: skip
            summary["returns_per_point"] = self.returns / max(1, won + lost)
            summary["touches_per_point"] = self.touches / max(1, won + lost)
        return self.obs[self.me], reward, terminated, truncated, summary


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--timesteps", type=int, default=6_000_000, help="learner decisions in all")
    p.add_argument("--envs", type=int, default=16)
    p.add_argument("--rollout", type=int, default=256, help="decisions per env per update")
    p.add_argument("--frame-skip", type=int, default=2)
    p.add_argument("--return-bonus", type=float, default=0.2, help="per ball sent over the net")
    p.add_argument("--touch-bonus", type=float, default=0.1, help="per touch of the ball")
    p.add_argument("--track", type=float, default=1.0, help="weight of the ball-tracking potential")
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--gamma", type=float, default=0.99)
    p.add_argument("--gae-lambda", type=float, default=0.95)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--minibatches", type=int, default=4)
    p.add_argument("--clip", type=float, default=0.2)
    p.add_argument("--ent-coef", type=float, default=0.01)
    p.add_argument("--vf-coef", type=float, default=0.5)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--eval-episodes", type=int, default=20)
    p.add_argument("--out", type=Path, default=HERE, help="folder for the curve and the model")
    return p.parse_args()


def export_onnx(actor: Actor, path: Path) -> None:
    """Write ``actor`` as ONNX: input ``obs`` [batch, 13] float32, output ``logits`` [batch, 6].

    Uses the TorchScript exporter (``dynamo=False``), which writes one self-contained file.
    """
    actor.eval()
    dummy = torch.zeros(1, OBS_SIZE, dtype=torch.float32)
    with warnings.catch_warnings():  # the legacy exporter warns that it is legacy
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            actor, (dummy,), str(path), input_names=["obs"], output_names=["logits"],
            dynamic_axes={"obs": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17,
            dynamo=False,
        )  # fmt: skip


def save_plot(rows: list[dict], path: Path) -> None:
    """A PNG of the curve, if matplotlib is installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    steps = [r["timesteps"] / 1e6 for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    for ax, key, label in zip(
        axes,
        ("mean_score_diff", "ahead_rate", "returns_per_point"),
        (
            "score difference per episode",
            "episodes ahead of the heuristic",
            "ball returns per point",
        ),
        strict=True,
    ):
        ax.plot(steps, [r[key] for r in rows])
        ax.set_xlabel("learner decisions (millions)")
        ax.set_title(label, fontsize=10)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def evaluate(actor: Actor, episodes: int, frame_skip: int, greedy: bool, seed: int) -> dict:
    """Mean points for/against and win/ahead rates of ``actor`` over fresh, unshaped episodes."""
    no_shaping = {"return": 0.0, "touch": 0.0, "track": 0.0, "gamma": 1.0}
    match = Match(seed, frame_skip, no_shaping)
    generator = torch.Generator().manual_seed(seed)
    results = []
    obs = match.reset()
    while len(results) < episodes:
        with torch.no_grad():
            logits = actor(torch.tensor([obs], dtype=torch.float32))[0]
        if greedy:
            action = int(logits.argmax())
        else:
            action = int(torch.multinomial(logits.softmax(-1), 1, generator=generator))
        obs, _, _, _, summary = match.step(action)
        if summary is not None:
            results.append(summary)
            obs = match.reset()
    return {
        key: round(sum(r[key] for r in results) / len(results), 3)
        for key in ("points_for", "points_against", "win", "ahead", "frames")
    }


def main() -> None:
    args = parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)

    shaping = {
        "return": args.return_bonus, "touch": args.touch_bonus, "track": args.track,
        "gamma": args.gamma,
    }  # fmt: skip
    matches = [Match(args.seed * 1000 + i, args.frame_skip, shaping) for i in range(args.envs)]
    actor, critic = Actor(), Critic()
    params = list(actor.parameters()) + list(critic.parameters())
    optimizer = torch.optim.Adam(params, lr=args.lr, eps=1e-5)

    n, t_len = args.envs, args.rollout
    batch = n * t_len
    updates = max(1, args.timesteps // batch)
    obs_buf = torch.zeros(t_len, n, OBS_SIZE)
    act_buf = torch.zeros(t_len, n, dtype=torch.int64)
    logp_buf = torch.zeros(t_len, n)
    rew_buf = torch.zeros(t_len, n)
    done_buf = torch.zeros(t_len, n)
    val_buf = torch.zeros(t_len, n)

    obs = torch.tensor([m.reset() for m in matches], dtype=torch.float32)
    recent: deque[dict] = deque(maxlen=50)
    rows: list[dict] = []
    start = time.perf_counter()
    curve_path = args.out / "training_curve.csv"
    fields = ["update", "timesteps", "frames", "wall_s", "episodes", "points_for",
              "points_against", "mean_score_diff", "win_rate", "ahead_rate", "episode_frames",
              "returns_per_point", "touches_per_point", "entropy"]  # fmt: skip
    episodes = frames = 0
    with curve_path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for update in range(1, updates + 1):
            for group in optimizer.param_groups:
                group["lr"] = args.lr * (1.0 - (update - 1) / updates)
            for t in range(t_len):
                with torch.no_grad():
                    dist = torch.distributions.Categorical(logits=actor(obs))
                    action = dist.sample()
                    obs_buf[t], act_buf[t], logp_buf[t] = obs, action, dist.log_prob(action)
                    val_buf[t] = critic(obs)
                next_obs = []
                for i, match in enumerate(matches):
                    o, r, term, trunc, summary = match.step(int(action[i]))
                    frames += args.frame_skip
                    if trunc and not term:  # bootstrap the cut-off episode's value
                        with torch.no_grad():
                            final = torch.tensor([o], dtype=torch.float32)
                            r += args.gamma * float(critic(final)[0])
                    if summary is not None:
                        recent.append(summary)
                        episodes += 1
                        o = match.reset()
                    rew_buf[t, i] = r
                    done_buf[t, i] = float(term or trunc)
                    next_obs.append(o)
                obs = torch.tensor(next_obs, dtype=torch.float32)

            with torch.no_grad():
                next_value = critic(obs)
            adv = torch.zeros(t_len, n)
            last = torch.zeros(n)
            for t in reversed(range(t_len)):
                not_done = 1.0 - done_buf[t]
                following = next_value if t == t_len - 1 else val_buf[t + 1]
                delta = rew_buf[t] + args.gamma * following * not_done - val_buf[t]
                last = delta + args.gamma * args.gae_lambda * not_done * last
                adv[t] = last
            ret = adv + val_buf

            b_obs, b_act = obs_buf.reshape(batch, OBS_SIZE), act_buf.reshape(batch)
            b_logp, b_adv, b_ret = logp_buf.reshape(batch), adv.reshape(batch), ret.reshape(batch)
            mb = batch // args.minibatches
            entropy_sum = 0.0
            for _ in range(args.epochs):
                order = torch.randperm(batch)
                for k in range(args.minibatches):
                    idx = order[k * mb : (k + 1) * mb]
                    dist = torch.distributions.Categorical(logits=actor(b_obs[idx]))
                    ratio = (dist.log_prob(b_act[idx]) - b_logp[idx]).exp()
                    a = b_adv[idx]
                    a = (a - a.mean()) / (a.std() + 1e-8)
                    clipped = ratio.clamp(1 - args.clip, 1 + args.clip)
                    pg_loss = -torch.min(ratio * a, clipped * a).mean()
                    v_loss = 0.5 * (critic(b_obs[idx]) - b_ret[idx]).pow(2).mean()
                    entropy = dist.entropy().mean()
                    loss = pg_loss + args.vf_coef * v_loss - args.ent_coef * entropy
                    optimizer.zero_grad()
                    loss.backward()
                    nn.utils.clip_grad_norm_(params, 0.5)
                    optimizer.step()
                    entropy_sum += float(entropy.detach())

            def mean(key: str) -> float:
                return sum(e[key] for e in recent) / len(recent) if recent else float("nan")

            row = {
                "update": update,
                "timesteps": update * batch,
                "frames": frames,
                "wall_s": round(time.perf_counter() - start, 1),
                "episodes": episodes,
                "points_for": round(mean("points_for"), 3),
                "points_against": round(mean("points_against"), 3),
                "mean_score_diff": round(mean("diff"), 3),
                "win_rate": round(mean("win"), 3),
                "ahead_rate": round(mean("ahead"), 3),
                "episode_frames": round(mean("frames"), 1),
                "returns_per_point": round(mean("returns_per_point"), 3),
                "touches_per_point": round(mean("touches_per_point"), 3),
                "entropy": round(entropy_sum / (args.epochs * args.minibatches), 4),
            }
            rows.append(row)
            writer.writerow(row)
            handle.flush()
            print(
                f"update {update}/{updates} steps {row['timesteps']} wall {row['wall_s']}s "
                f"episodes {episodes} points {row['points_for']}:{row['points_against']} "
                f"win {row['win_rate']} ahead {row['ahead_rate']} "
                f"returns/pt {row['returns_per_point']} touches/pt {row['touches_per_point']} "
                f"entropy {row['entropy']}",
                flush=True,
            )

    model_path = args.out / "policy.onnx"
    export_onnx(actor, model_path)
    save_plot(rows, args.out / "training_curve.png")
    print(f"wrote {model_path} and {curve_path} in {time.perf_counter() - start:.0f} s")
    for greedy in (False, True):
        result = evaluate(actor, args.eval_episodes, args.frame_skip, greedy, args.seed + 99)
        print(f"final evaluation, {'argmax' if greedy else 'sampling'}: {result}", flush=True)


if __name__ == "__main__":
    main()
