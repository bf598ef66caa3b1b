"""Environment initialization file for MUG studies: defines the global ``env``.

The runtime executes this file with the example folder importable (in Pyodide or CPython).
Set the scene's rendering fps to ``env.metadata["render_fps"]`` so the game runs in real time.
"""

from slime_env import SlimeVolleyballEnv

env = SlimeVolleyballEnv(points_to_win=5, max_steps=3000, fps=30)
