// The dashboard's SVG bar charts (static/console/charts.js): geometry, in Node.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { barChart, barLayout, clampShare, labelStep, percent, shareLevel } from "../../static/console/charts.js";

const SIZE = { width: 200, height: 120, top: 10, bottom: 20, left: 30, right: 10, gap: 0.5 };

describe("barLayout", () => {
  test("a share of 0.5 is a bar half the plot's height, standing on the baseline", () => {
    const layout = barLayout([{ label: "ja", value: 0.5 }], SIZE);
    assert.deepEqual(layout.plot, { x: 30, y: 10, width: 160, height: 90 });
    const [bar] = layout.bars;
    assert.equal(bar.height, 45);
    assert.equal(bar.y + bar.height, layout.baseline);
    assert.equal(layout.baseline, 100);
    assert.equal(bar.title, "ja: 50%");
  });

  test("bars share the width evenly, each centred in its slot with the gap around it", () => {
    const layout = barLayout(
      [
        { label: "a", value: 1 },
        { label: "b", value: 0 },
      ],
      SIZE,
    );
    const [a, b] = layout.bars;
    assert.equal(a.width, 40); // slot 80, half of it a gap
    assert.equal(a.x, 50);
    assert.equal(b.x, 130);
    assert.equal(a.height, 90);
    assert.equal(b.height, 0);
    assert.equal(b.empty, false); // 0% is a measured value
    assert.equal(a.labelX, 70);
  });

  test("nothing measured is an empty bar, not 0%", () => {
    const [bar] = barLayout([{ label: "03", value: null }], SIZE).bars;
    assert.equal(bar.empty, true);
    assert.equal(bar.height, 0);
    assert.equal(bar.value, null);
    assert.equal(bar.level, "none");
    assert.equal(bar.title, "03: –");
  });

  test("values are clamped to 0..1; grid lines at the ticks; the target as a line", () => {
    const layout = barLayout([{ label: "x", value: 1.7 }], { ...SIZE, target: 0.8 });
    assert.equal(layout.bars[0].height, 90);
    assert.deepEqual(
      layout.grid.map((line) => [line.label, line.y]),
      [
        ["0%", 100],
        ["50%", 55],
        ["100%", 10],
      ],
    );
    assert.deepEqual(layout.target, { value: 0.8, y: 28, label: "80%" });
  });

  test("no bars is an empty chart", () => {
    const layout = barLayout([], SIZE);
    assert.deepEqual(layout.bars, []);
    assert.equal(layout.target, null);
  });
});

describe("helpers", () => {
  test("clampShare, percent, shareLevel", () => {
    assert.equal(clampShare("0.5"), null);
    assert.equal(clampShare(Number.NaN), null);
    assert.equal(clampShare(-1), 0);
    assert.equal(percent(0.666), "67%");
    assert.equal(percent(null), "–");
    assert.equal(shareLevel(0.9), "good");
    assert.equal(shareLevel(0.5), "fair");
    assert.equal(shareLevel(0.2), "poor");
    assert.equal(shareLevel(0.5, 0.5), "good");
  });

  test("labelStep thins labels so that at most `fit` show", () => {
    assert.equal(labelStep(24, 12), 2);
    assert.equal(labelStep(5, 12), 1);
    assert.equal(labelStep(25, 12), 3);
    assert.equal(labelStep(0, 12), 1);
  });
});

describe("barChart", () => {
  // The least of a document that barChart needs: elements with attributes and children.
  const doc = {
    createElementNS(namespace, name) {
      return {
        namespace,
        name,
        attributes: {},
        children: [],
        textContent: "",
        setAttribute(key, value) {
          this.attributes[key] = value;
        },
        append(...nodes) {
          this.children.push(...nodes);
        },
      };
    },
  };
  const find = (element, name) =>
    element.children.flatMap((child) => (child.name === name ? [child] : find(child, name)));

  test("one group per bar, a rect for a value, a stub for none, labels thinned", () => {
    const layout = barLayout(
      [
        { label: "00", value: 0.5 },
        { label: "01", value: null },
        { label: "02", value: 1 },
      ],
      SIZE,
    );
    const svg = barChart(doc, layout, { title: "Within 30 s by hour", maxLabels: 2 });
    assert.equal(svg.attributes.viewBox, "0 0 200 120");
    assert.equal(svg.attributes["aria-label"], "Within 30 s by hour");
    const groups = find(svg, "g");
    assert.deepEqual(
      groups.map((g) => [g.attributes["data-label"], g.attributes["data-value"], g.attributes.class]),
      [
        ["00", "0.5", "bar bar--fair"],
        ["01", "", "bar bar--none"],
        ["02", "1", "bar bar--good"],
      ],
    );
    assert.equal(find(groups[0], "rect")[0].attributes.height, "45");
    assert.equal(find(groups[1], "rect").length, 0);
    assert.equal(find(groups[1], "line").length, 1);
    // Two labels fit: every second bar is labelled.
    assert.deepEqual(
      groups.map((g) => find(g, "text").map((t) => t.textContent)),
      [["00"], [], ["02"]],
    );
  });
});
