// The composer's canned replies and FAQ answers (static/console/canned.js), in Node's runner.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { choicesOf, fillPlaceholders, filterChoices, normalize } from "../../static/console/canned.js";

const REPLIES = [
  { id: "r1", language: "th", title: "Greeting", text: "สวัสดีค่ะ คุณ{customer_name}", filled: "สวัสดีค่ะ คุณSomchai" },
  { id: "r2", language: "en", title: "Tracking", text: "Your number is {tracking_number}, {customer_name}. — {agent_name}" },
];
const ENTRIES = [
  { id: "mt5-install", question: "How do I install MT5?", answer: "วิธีติดตั้ง MT5 ...", answer_language: "th", fallback: false },
  { id: "withdrawal-time", question: "How long does a withdrawal take?", answer: "ถอนเงิน ...", answer_language: "th", fallback: false },
];

describe("fillPlaceholders", () => {
  test("the three placeholders, unknown values empty, other braces kept", () => {
    assert.equal(
      fillPlaceholders("Hi {customer_name}, {tracking_number} from {agent_name} {other}", {
        customer_name: "Somchai",
        tracking_number: "K7PX-4QR9-M",
        agent_name: "Emma",
      }),
      "Hi Somchai, K7PX-4QR9-M from Emma {other}",
    );
    assert.equal(fillPlaceholders("Hi {customer_name}!", {}), "Hi !");
  });
});

describe("choicesOf", () => {
  test("canned replies first (the server's filled text, else filled here), then FAQ answers", () => {
    const choices = choicesOf(REPLIES, ENTRIES, { customer_name: "Ann", tracking_number: "N1", agent_name: "Emma" });
    assert.deepEqual(choices.map((c) => [c.key, c.text]), [
      ["canned:r1", "สวัสดีค่ะ คุณSomchai"],
      ["canned:r2", "Your number is N1, Ann. — Emma"],
      ["faq:mt5-install", "วิธีติดตั้ง MT5 ..."],
      ["faq:withdrawal-time", "ถอนเงิน ..."],
    ]);
    assert.deepEqual(choicesOf(null, [{ id: 3 }]), []);
  });
});

describe("filterChoices", () => {
  const choices = choicesOf(REPLIES, ENTRIES);
  test("every word, any case and width; titles starting with the query first", () => {
    assert.deepEqual(filterChoices(choices, "").map((c) => c.key).length, 4);
    assert.deepEqual(filterChoices(choices, "ＭＴ５ install").map((c) => c.key), ["faq:mt5-install"]);
    assert.deepEqual(filterChoices(choices, "track").map((c) => c.key), ["canned:r2"]);
    assert.deepEqual(filterChoices(choices, "how").map((c) => c.key), ["faq:mt5-install", "faq:withdrawal-time"]);
    assert.deepEqual(filterChoices(choices, "withdrawal how").map((c) => c.key), ["faq:withdrawal-time"]);
    assert.deepEqual(filterChoices(choices, "nothing like this"), []);
    assert.equal(filterChoices(choices, "", 2).length, 2);
  });
  test("an FAQ answer's text is not searched (the agent may not read the customer's language)", () => {
    assert.deepEqual(filterChoices(choices, "ถอนเงิน"), []);
  });
  test("normalize", () => {
    assert.equal(normalize("  Ｈｅｌｌｏ\n  World "), "hello world");
  });
});
