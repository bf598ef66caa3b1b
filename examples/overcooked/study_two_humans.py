"""Two participants cook together in CoGrid's Overcooked; the env steps on the study server.

Run it with ``mug run examples/overcooked/study_two_humans.py`` and open
http://localhost:8000/ in two browser windows: the first waits for the second.
"""

from overcooked_study import build_study

config = build_study("human", experiment_id="overcooked_two_humans")

if __name__ == "__main__":
    from mug_core.server import app

    app.run(config)
