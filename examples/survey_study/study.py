"""A study with no game: consent, instructions, a survey and a completion code.

Run it with ``mug run examples/survey_study/study.py`` and open http://localhost:8000/.
"""

from mug_core.configurations import experiment_config
from mug_core.scenes import stager, static_scene
from mug_core.scenes.survey import FreeText, Likert, MultipleChoice, SurveyScene
from mug_core.server import app

start = (
    static_scene.StartScene()
    .scene(scene_id="consent")
    .display(
        scene_header="Welcome",
        scene_body="<p>This short study asks a few questions about how you play games.</p>",
    )
    .consent("I am 18 or older and agree to take part.")
)

instructions = (
    static_scene.StaticScene()
    .scene(scene_id="instructions")
    .display(
        scene_header="Instructions",
        scene_body="<p>Please answer every question marked with a star.</p>",
    )
)

survey = (
    SurveyScene()
    .scene(scene_id="about_you")
    .display(scene_header="About you")
    .questions(
        Likert(
            "enjoys_games",
            "I enjoy playing video games.",
            scale=7,
            labels=("Strongly disagree", "Strongly agree"),
        ),
        MultipleChoice("hand", "Which hand do you use for the mouse?", options=["Left", "Right"]),
        MultipleChoice(
            "genres",
            "Which genres do you play?",
            options=["Sports", "Puzzle", "Strategy"],
            multi=True,
            required=False,
        ),
        FreeText("comments", "Anything else you would like to tell us?", required=False),
    )
)

end = (
    static_scene.CompletionCodeScene()
    .scene(scene_id="end")
    .display(
        scene_header="Thank you!",
        scene_body="<p>Copy this code into Prolific to finish.</p>",
    )
)

config = (
    experiment_config.ExperimentConfig()
    .experiment(
        stager=stager.Stager(scenes=[start, instructions, survey, end]), experiment_id="survey_demo"
    )
    .hosting(port=8000)
)

if __name__ == "__main__":
    app.run(config)
