// The dashboard's figures as the view shows them (static/console/dashboard.js), in Node.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { formatWait, hourBars, languageBars, tiles } from "../../static/console/dashboard.js";

const snapshot = {
  first_response: {
    handoffs: 3,
    within_target: 1,
    missed: 1,
    share_within_target: 0.5,
    by_language: [{ language: "ja", handoffs: 2, within_target: 1, missed: 1, share_within_target: 0.5 }],
    by_hour: [
      { hour: 8, handoffs: 0, within_target: 0, missed: 0, share_within_target: null },
      { hour: 9, handoffs: 2, within_target: 1, missed: 1, share_within_target: 0.5 },
    ],
  },
  abandonment: { handoffs: 3, abandoned: 1, share: 0.3333 },
  csat: { ratings: 0, average: null, csat: null },
  agents: { counts: { online: 2, away: 1, offline: 0 }, agents: [] },
  queues: [
    { queue: "ja/technical", waiting: 2 },
    { queue: "th/account", waiting: 1 },
  ],
};

describe("dashboard", () => {
  test("tiles: within 30 s of those decided, abandonment, CSAT, agents, waiting", () => {
    const t = tiles(snapshot);
    assert.deepEqual(t.within, { share: 0.5, hit: 1, decided: 2 });
    assert.deepEqual(t.abandoned, { share: 0.3333, count: 1, handoffs: 3 });
    assert.deepEqual(t.csat, { average: null, ratings: 0, share: null });
    assert.deepEqual(t.agents, { online: 2, away: 1, offline: 0 });
    assert.equal(t.waiting, 3);
    assert.equal(tiles(null).within.share, null);
  });

  test("bars by language carry the language's name; by hour an empty hour stays empty", () => {
    const [ja] = languageBars(snapshot, (tag) => (tag === "ja" ? "Japanese" : tag));
    assert.deepEqual(ja, { label: "ja", value: 0.5, title: "Japanese: 50% (1/2)" });
    const hours = hourBars(snapshot);
    assert.deepEqual(
      hours.map((bar) => [bar.label, bar.value, bar.title]),
      [
        ["08", null, "08:00 –"],
        ["09", 0.5, "09:00 50% (1/2)"],
      ],
    );
  });

  test("formatWait", () => {
    assert.equal(formatWait(42.7), "0:42");
    assert.equal(formatWait(725), "12:05");
    assert.equal(formatWait(3723), "1:02:03");
    assert.equal(formatWait(-5), "0:00");
  });
});
