// Supervisors' canned replies view (static/console/canned_admin.js): its pure parts.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  answerProblem,
  insertPlaceholder,
  previewText,
  repliesIn,
  sampleValues,
  unknownPlaceholders,
} from "../../static/console/canned_admin.js";

const REPLIES = [
  { id: "r3", language: "th", title: "ติดตาม", text: "หมายเลข {tracking_number}" },
  { id: "r1", language: "en", title: "greeting", text: "Hello {customer_name}" },
  { id: "r2", language: "th", title: "ทักทาย", text: "สวัสดีค่ะ คุณ{customer_name}" },
  { id: "r4", language: "en", title: "Closing", text: "Bye" },
];

describe("repliesIn", () => {
  test("one language, by title", () => {
    assert.deepEqual(
      repliesIn(REPLIES, "th").map((r) => r.id),
      ["r3", "r2"],
    );
  });
  test("all languages: by language, then title whatever its case", () => {
    assert.deepEqual(
      repliesIn(REPLIES, "").map((r) => r.id),
      ["r4", "r1", "r3", "r2"],
    );
  });
  test("nothing usable, nothing listed", () => {
    assert.deepEqual(repliesIn(null, ""), []);
    assert.deepEqual(repliesIn([null, { title: "no id" }], ""), []);
  });
});

describe("preview", () => {
  test("the sample values of the reply's language fill the known placeholders", () => {
    const values = sampleValues("th", "Sam Okafor");
    assert.equal(values.agent_name, "Sam Okafor");
    assert.equal(
      previewText("สวัสดีค่ะ คุณ{customer_name} ({tracking_number}) — {agent_name}", values),
      `สวัสดีค่ะ คุณ${values.customer_name} (${values.tracking_number}) — Sam Okafor`,
    );
    assert.notEqual(values.customer_name, sampleValues("ja", "x").customer_name);
  });
  test("an unknown language borrows the English sample; an unknown placeholder stays", () => {
    const values = sampleValues("xx", "");
    assert.equal(values.customer_name, sampleValues("en", "").customer_name);
    assert.ok(values.agent_name);
    assert.equal(previewText("Hi {customer} {customer_name}", values), `Hi {customer} ${values.customer_name}`);
  });
});

describe("unknownPlaceholders", () => {
  test("each one the server refuses, once, in order", () => {
    assert.deepEqual(unknownPlaceholders("{name} {customer_name} {ticket} {name}"), ["name", "ticket"]);
    assert.deepEqual(unknownPlaceholders("{customer_name}{agent_name}{tracking_number}"), []);
  });
});

describe("insertPlaceholder", () => {
  test("at the caret, the caret after it", () => {
    assert.deepEqual(insertPlaceholder("Hello !", 6, 6, "customer_name"), {
      value: "Hello {customer_name}!",
      caret: 21,
    });
  });
  test("over a selection", () => {
    assert.deepEqual(insertPlaceholder("No. XXXX ok", 4, 8, "tracking_number").value, "No. {tracking_number} ok");
  });
  test("no caret known: at the end; out of range: clamped", () => {
    assert.equal(insertPlaceholder("Hi ", undefined, undefined, "agent_name").value, "Hi {agent_name}");
    assert.equal(insertPlaceholder("ab", 9, 1, "agent_name").value, "ab{agent_name}");
  });
});

describe("answerProblem", () => {
  const refused = (message, status = 400, code = "invalid_payload") => ({
    status,
    data: { ok: false, error: { code, message } },
  });
  test("went through", () => {
    assert.equal(answerProblem({ status: 201, data: {} }), null);
    assert.equal(answerProblem({ status: 200, data: { ok: true } }), null);
  });
  test("the field the server names (chatserver/canned.py's messages)", () => {
    assert.deepEqual(answerProblem(refused("title: 1-120 characters")), { field: "title", problem: "title" });
    assert.deepEqual(answerProblem(refused("text: 1-2000 characters")), { field: "text", problem: "text" });
    assert.deepEqual(answerProblem(refused("language: one of en, th")), { field: "language", problem: "language" });
    assert.deepEqual(
      answerProblem(refused("text: unknown placeholder {name}; use customer_name, tracking_number, agent_name")),
      { field: "text", problem: "placeholder", placeholder: "name" },
    );
  });
  test("the form as a whole", () => {
    assert.deepEqual(answerProblem(refused("send a JSON object")), { field: null, problem: "invalid" });
    assert.deepEqual(answerProblem(refused("x", 403, "forbidden")), { field: null, problem: "forbidden" });
    assert.deepEqual(answerProblem(refused("x", 404, "unknown_canned")), { field: null, problem: "gone" });
    assert.deepEqual(answerProblem(refused("x", 500, "internal_error")), { field: null, problem: "failed" });
    assert.deepEqual(answerProblem(null), { field: null, problem: "network" });
  });
});
