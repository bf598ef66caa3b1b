/**
 * The "survey" scene: free text, Likert and multiple-choice questions. The server validates
 * the answers; this page only collects them and shows the errors it sends back.
 *
 * Response: `{answers: {<id>: value}}` with text -> string ("" if empty), likert -> integer or
 * null, choice -> string or null (multi: list of strings).
 * @module mug/scenes/survey
 */

import { h } from "../dom.js";
import { registerScene } from "../kernel.js";
import { bindSubmit, clearErrorOnChange, continueButton, errorSlot, pageShell } from "./common.js";

/**
 * The prompt text with a required marker.
 * @param {object} q
 * @returns {Array<Node|string>}
 */
function promptContent(q) {
  return [
    h("span", { class: "mug-prompt-text", text: q.prompt ?? "" }),
    q.required ? h("span", { class: "mug-required", "aria-hidden": "true" }, " *") : null,
    q.required ? h("span", { class: "mug-visually-hidden" }, " (required)") : null,
  ];
}

/**
 * A question's wrapper: `[data-question=id][data-field=id]`, with its error slot last.
 * @param {string} tag "div" or "fieldset"
 * @param {object} q
 * @param {Node} prompt the label or legend
 * @param {...Node} body the inputs
 * @returns {HTMLElement}
 */
function questionWrapper(tag, q, prompt, ...body) {
  const wrapper = h(
    tag,
    {
      class: `mug-question mug-question-${q.kind}`,
      dataset: { question: q.id, field: q.id, kind: q.kind },
      "aria-describedby": tag === "fieldset" ? `mug-error-${q.id}` : null,
    },
    prompt,
    ...body,
    errorSlot(q.id),
  );
  clearErrorOnChange(wrapper);
  return wrapper;
}

/** @returns {{element: HTMLElement, value: () => string}} */
function textQuestion(q) {
  const attrs = {
    id: `mug-q-${q.id}`,
    name: q.id,
    class: "mug-input",
    maxlength: Number.isInteger(q.max_length) && q.max_length > 0 ? q.max_length : null,
    "aria-describedby": `mug-error-${q.id}`,
    "aria-required": q.required ? "true" : null,
    autocomplete: "off",
  };
  const input = q.multiline ? h("textarea", { ...attrs, rows: 4 }) : h("input", { ...attrs, type: "text" });
  const label = h("label", { class: "mug-prompt", for: attrs.id }, ...promptContent(q));
  return { element: questionWrapper("div", q, label, input), value: () => input.value };
}

/**
 * Labels for each point of a Likert scale: per-point labels, or end labels on the first and
 * last points only.
 * @returns {{perPoint: (string|null)[], ends: string[]|null}}
 */
function likertLabels(q, scale) {
  const labels = Array.isArray(q.labels) ? q.labels.map(String) : [];
  if (labels.length === scale) return { perPoint: labels, ends: null };
  if (labels.length === 2) return { perPoint: Array(scale).fill(null), ends: labels };
  return { perPoint: Array(scale).fill(null), ends: null };
}

/** @returns {{element: HTMLElement, value: () => number|null}} */
function likertQuestion(q) {
  const scale = Number.isInteger(q.scale) && q.scale >= 2 ? Math.min(q.scale, 11) : 5;
  const { perPoint, ends } = likertLabels(q, scale);
  const points = [];
  for (let i = 1; i <= scale; i += 1) {
    const endLabel = ends && (i === 1 ? ends[0] : i === scale ? ends[1] : null);
    points.push(
      h(
        "label",
        { class: "mug-likert-point", for: `mug-q-${q.id}-${i}` },
        h("input", { type: "radio", id: `mug-q-${q.id}-${i}`, name: q.id, value: String(i) }),
        h("span", { class: "mug-likert-number", text: String(i) }),
        perPoint[i - 1] ? h("span", { class: "mug-likert-label", text: perPoint[i - 1] }) : null,
        endLabel ? h("span", { class: "mug-visually-hidden", text: ` (${endLabel})` }) : null,
      ),
    );
  }
  const row = h(
    "div",
    { class: `mug-likert${perPoint.some(Boolean) ? " has-point-labels" : ""}` },
    points,
  );
  row.style.setProperty("--mug-points", String(scale));
  const endRow = ends
    ? h(
        "div",
        { class: "mug-likert-ends", "aria-hidden": "true" },
        h("span", { class: "mug-likert-end", text: ends[0] }),
        h("span", { class: "mug-likert-end", text: ends[1] }),
      )
    : null;
  const legend = h("legend", { class: "mug-prompt" }, ...promptContent(q));
  const element = questionWrapper("fieldset", q, legend, row, endRow);
  return {
    element,
    value: () => {
      const picked = element.querySelector(`input[name="${CSS.escape(q.id)}"]:checked`);
      return picked ? Number.parseInt(picked.value, 10) : null;
    },
  };
}

/** @returns {{element: HTMLElement, value: () => string|string[]|null}} */
function choiceQuestion(q) {
  const options = Array.isArray(q.options) ? q.options.map(String) : [];
  const type = q.multi ? "checkbox" : "radio";
  const list = h(
    "div",
    { class: "mug-options" },
    options.map((option, i) =>
      h(
        "label",
        { class: "mug-option", for: `mug-q-${q.id}-${i}` },
        h("input", { type, id: `mug-q-${q.id}-${i}`, name: q.id, value: option }),
        h("span", { class: "mug-option-label", text: option }),
      ),
    ),
  );
  const legend = h("legend", { class: "mug-prompt" }, ...promptContent(q));
  const element = questionWrapper("fieldset", q, legend, list);
  return {
    element,
    value: () => {
      const picked = [...element.querySelectorAll(`input[name="${CSS.escape(q.id)}"]:checked`)].map((i) => i.value);
      if (q.multi) return picked;
      return picked.length ? picked[0] : null;
    },
  };
}

/** A question of a kind this page does not know: shown, answered with null. */
function unknownQuestion(q) {
  const note = h("p", { class: "mug-note", text: `This question type (${q.kind}) cannot be shown.` });
  const prompt = h("p", { class: "mug-prompt" }, ...promptContent(q));
  return { element: questionWrapper("div", q, prompt, note), value: () => null };
}

const BUILDERS = { text: textQuestion, likert: likertQuestion, choice: choiceQuestion };

registerScene("survey", {
  render(container, payload, api) {
    const spec = payload.spec ?? {};
    const questions = (Array.isArray(spec.questions) ? spec.questions : []).filter(
      (q) => q && typeof q.id === "string",
    );
    const built = questions.map((q) => ({ id: q.id, ...(BUILDERS[q.kind] ?? unknownQuestion)(q) }));
    const anyRequired = questions.some((q) => q.required);
    const form = h(
      "form",
      { id: "mug-form", class: "mug-form mug-survey", novalidate: true },
      anyRequired
        ? h("p", { class: "mug-required-note" }, h("span", { class: "mug-required", "aria-hidden": "true" }, "*"), " Required")
        : null,
      built.map((b) => b.element),
      errorSlot(""),
      h("div", { class: "mug-actions" }, continueButton(spec.button_text)),
    );
    bindSubmit(form, api, () => ({
      answers: Object.fromEntries(built.map((b) => [b.id, b.value()])),
    }));
    container.appendChild(pageShell(spec, form));
  },
});
