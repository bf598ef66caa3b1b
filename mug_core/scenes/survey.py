"""Survey scenes: free text, Likert scales and multiple choice, validated on the server.

Example::

    SurveyScene().scene("post_game").display(scene_header="A few questions").questions(
        Likert("enjoyed", "I enjoyed playing with my partner.", scale=7,
               labels=("Strongly disagree", "Strongly agree")),
        MultipleChoice("strategy", "What did you focus on?", options=["Speed", "Accuracy"]),
        MultipleChoice("keys", "Which keys did you use?", options=["W", "A", "S", "D"],
                       multi=True),
        FreeText("comments", "Anything else?", required=False),
    )
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Self

import attrs

from mug_core.scenes.scene import Response, SceneContext, check_id
from mug_core.scenes.static_scene import StaticScene

REQUIRED_MESSAGE = "Please answer this question."


@attrs.frozen
class Question:
    """A survey question. ``question_id`` names its column in the data."""

    kind: ClassVar[str] = ""
    question_id: str = attrs.field(converter=lambda v: check_id(v, "question_id"))
    prompt: str = attrs.field()
    required: bool = attrs.field(default=True, kw_only=True)

    @prompt.validator
    def _check_prompt(self, attribute: Any, value: str) -> None:
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"question {self.question_id!r}: prompt must be non-empty text")

    def spec(self) -> dict[str, Any]:
        """How the page renders the question."""
        return {
            "id": self.question_id,
            "kind": self.kind,
            "prompt": self.prompt,
            "required": self.required,
        }

    def clean(self, raw: Any) -> tuple[Any, str | None]:
        """The value to record for ``raw`` (None if unanswered), or an error message."""
        return (None if _is_blank(raw) else raw), None


def _is_blank(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip()) or raw == []


@attrs.frozen
class FreeText(Question):
    """A text answer, one line or several (``multiline=True``), at most ``max_length`` long."""

    kind = "text"
    multiline: bool = attrs.field(default=False, kw_only=True)
    max_length: int = attrs.field(default=2000, kw_only=True)

    @max_length.validator
    def _check_max(self, attribute: Any, value: int) -> None:
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"question {self.question_id!r}: max_length must be 1 or more")

    def spec(self) -> dict[str, Any]:
        return {**super().spec(), "multiline": self.multiline, "max_length": self.max_length}

    def clean(self, raw: Any) -> tuple[Any, str | None]:
        if _is_blank(raw):
            return None, None
        if not isinstance(raw, str):
            return None, "Please enter text."
        text = raw.strip()
        if len(text) > self.max_length:
            return None, f"Please keep this under {self.max_length} characters."
        return text, None


@attrs.frozen
class Likert(Question):
    """A rating from 1 to ``scale``, with optional end (or per-point) labels."""

    kind = "likert"
    scale: int = attrs.field(default=5, kw_only=True)
    labels: tuple[str, ...] = attrs.field(default=(), kw_only=True, converter=tuple)

    @scale.validator
    def _check_scale(self, attribute: Any, value: int) -> None:
        if not isinstance(value, int) or not 2 <= value <= 11:
            raise ValueError(f"question {self.question_id!r}: scale must be 2 to 11 points")

    @labels.validator
    def _check_labels(self, attribute: Any, value: tuple[str, ...]) -> None:
        if len(value) not in (0, 2, self.scale):
            raise ValueError(
                f"question {self.question_id!r}: labels must be empty, two end labels, "
                f"or one per point ({self.scale}); got {len(value)}"
            )

    def spec(self) -> dict[str, Any]:
        return {**super().spec(), "scale": self.scale, "labels": list(self.labels)}

    def clean(self, raw: Any) -> tuple[Any, str | None]:
        if _is_blank(raw):
            return None, None
        if isinstance(raw, str) and raw.strip().isdigit():
            raw = int(raw)
        if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= self.scale:
            return None, f"Please choose a point from 1 to {self.scale}."
        return raw, None


@attrs.frozen
class MultipleChoice(Question):
    """Pick one option, or several with ``multi=True`` (recorded as a list)."""

    kind = "choice"
    options: tuple[str, ...] = attrs.field(default=(), kw_only=True, converter=tuple)
    multi: bool = attrs.field(default=False, kw_only=True)

    @options.validator
    def _check_options(self, attribute: Any, value: tuple[str, ...]) -> None:
        if len(value) < 2:
            raise ValueError(f"question {self.question_id!r}: give at least two options")
        if len(set(value)) != len(value) or not all(isinstance(o, str) and o for o in value):
            raise ValueError(f"question {self.question_id!r}: options must be distinct text")

    def spec(self) -> dict[str, Any]:
        return {**super().spec(), "options": list(self.options), "multi": self.multi}

    def clean(self, raw: Any) -> tuple[Any, str | None]:
        if _is_blank(raw):
            return None, None
        if self.multi:
            picked = raw if isinstance(raw, list) else [raw]
            if not all(isinstance(p, str) and p in self.options for p in picked):
                return None, "Please choose from the listed options."
            # Keep the page's order irrelevant: record in the options' order, once each.
            return [o for o in self.options if o in picked], None
        if not isinstance(raw, str) or raw not in self.options:
            return None, "Please choose one of the listed options."
        return raw, None


@attrs.define(eq=False)
class SurveyScene(StaticScene):
    """A page of questions; required answers are enforced on the server."""

    scene_type = "survey"
    question_list: list[Question] = attrs.field(factory=list)
    button_text: str = "Submit"

    def questions(self, *questions: Question | Sequence[Question]) -> Self:
        """Set the questions, in page order (a list or several arguments)."""
        flat: list[Question] = []
        for item in questions:
            flat.extend(item if isinstance(item, list | tuple) else [item])
        for q in flat:
            if not isinstance(q, Question):
                raise TypeError(
                    f"questions(): expected FreeText, Likert or MultipleChoice, got {q!r}"
                )
        ids = [q.question_id for q in flat]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"questions(): question ids must be unique, repeated: {dupes}")
        self.question_list = flat
        return self

    def check(self) -> list[str]:
        problems = super().check()
        if not self.question_list:
            problems.append(f"survey scene {self.scene_id!r} has no questions: call .questions()")
        return problems

    def client_spec(self, context: SceneContext) -> dict[str, Any]:
        return {**super().client_spec(context), "questions": [q.spec() for q in self.question_list]}

    def handle_response(self, payload: Mapping[str, Any], context: SceneContext) -> Response:
        answers = payload.get("answers", {})
        if not isinstance(answers, Mapping):
            return Response(errors={"": "The answers could not be read; please try again."})
        values: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for q in self.question_list:
            value, error = q.clean(answers.get(q.question_id))
            if error is None and value is None and q.required:
                error = REQUIRED_MESSAGE
            if error is not None:
                errors[q.question_id] = error
            values[q.question_id] = value
        return Response(values=values, errors=errors)
