"""A participant cooks with a scripted AI chef in CoGrid's Overcooked, stepped on the server.

Run it with ``mug run examples/overcooked/study_human_ai.py`` and open http://localhost:8000/.
"""

from overcooked_study import build_study

config = build_study("ai", experiment_id="overcooked_human_ai")

if __name__ == "__main__":
    from mug_core.server import app

    app.run(config)
