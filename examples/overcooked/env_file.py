"""Environment initialization file for the Overcooked studies: defines ``env`` and ``chef``.

The server runtime executes this file once per game, with this folder importable. ``env`` is
CoGrid's Overcooked Cramped Room drawn with a Surface; ``chef`` is the scripted partner bound to
it (``HeuristicPolicy("env:chef")`` in the studies). The episode lasts 60 seconds at 8 steps a
second: keep the scene's ``fps`` and ``max_steps`` equal to these.
"""

from overcooked_chef import ScriptedChef
from overcooked_mug_env import OvercookedMUG

env = OvercookedMUG(max_steps=480, fps=8)
chef = ScriptedChef(env, seed=0)
