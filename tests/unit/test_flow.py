from __future__ import annotations

from mug_core import (
    Branch,
    CompletionCodeScene,
    EndScene,
    MultipleChoice,
    RandomizeOrder,
    RepeatScene,
    Stager,
    StaticScene,
    SurveyScene,
)
from mug_core.server.flow import Flow, ParticipantState


def _walk(flow: Flow, state: ParticipantState, answers: dict | None = None) -> list[str]:
    keys = []
    while (current := flow.enter(state, 0.0)) is not None:
        keys.append(current.scene_key)
        if current.scene.is_terminal:
            break
        flow.advance(state, current, (answers or {}).get(current.scene_key, {}), 1.0)
    return keys


def test_repeat_gets_distinct_keys_and_order_is_kept() -> None:
    a, b = StaticScene().scene("a"), StaticScene().scene("b")
    flow = Flow(Stager([RepeatScene([a, b], n=2), EndScene().scene("end")]))
    assert _walk(flow, ParticipantState("p")) == ["a", "b", "a-2", "b-2", "end"]


def test_randomize_keep_n_is_per_participant_and_stable_for_a_seed() -> None:
    conds = [StaticScene().scene(f"c{i}") for i in range(4)]
    flow = Flow(Stager([RandomizeOrder(conds, keep_n=2), EndScene().scene("end")]))
    orders = {tuple(_walk(flow, ParticipantState("p", seed=s))) for s in range(40)}
    assert len(orders) > 3
    assert all(len(o) == 3 and o[-1] == "end" for o in orders)
    assert _walk(flow, ParticipantState("p", seed=7)) == _walk(flow, ParticipantState("q", seed=7))


def test_branch_picks_from_earlier_answers_and_survives_a_restart() -> None:
    q = SurveyScene().scene("q").questions(MultipleChoice("path", "Path?", options=["x", "y"]))
    x, y = StaticScene().scene("x"), StaticScene().scene("y")
    branch = Branch(lambda answers: answers["q"]["path"], [x, y])
    skip = Branch(lambda answers: None, [StaticScene().scene("never")])
    flow = Flow(Stager([q, branch, skip, CompletionCodeScene().scene("end")]))
    state = ParticipantState("p")
    assert _walk(flow, state, {"q": {"path": "y"}}) == ["q", "y", "end"]
    assert state.completion_code and state.finished_at is not None
    resumed = ParticipantState.from_dict(state.to_dict())
    assert Flow(flow.stager).current(resumed).scene_key == "end"  # type: ignore[union-attr]


def test_resume_mid_study_returns_the_same_scene() -> None:
    scenes = [StaticScene().scene(f"s{i}") for i in range(3)]
    flow = Flow(Stager([RandomizeOrder(scenes), EndScene().scene("end")]))
    state = ParticipantState("p")
    first = flow.enter(state, 0.0)
    flow.advance(state, first, {}, 1.0)  # type: ignore[arg-type]
    second = flow.enter(state, 2.0)
    restored = ParticipantState.from_dict(state.to_dict())
    again = Flow(flow.stager).current(restored)
    assert again is not None and second is not None and again.scene_key == second.scene_key
    assert restored.scene_started_at == 2.0
