// @ts-check
/*
 * Bar charts as hand-drawn SVG, for the supervisors' dashboard (no chart library: the house
 * rule). `barLayout` is pure geometry (tested in Node, tests/js/charts.test.mjs);
 * `barChart` turns a layout into SVG elements with the document it is given.
 *
 * A bar's value is a share from 0 to 1, or null when there is nothing to measure (no chat
 * answered or missed in that hour): such a bar is drawn as a thin dashed stub, so "no data"
 * never reads as 0%.
 */

const SVG = "http://www.w3.org/2000/svg";

export const DEFAULTS = Object.freeze({
  width: 480,
  height: 180,
  top: 10, // room above the tallest bar
  bottom: 22, // room for the labels under the bars
  left: 34, // room for the axis labels
  right: 6,
  gap: 0.25, // the share of each slot left empty between bars
  ticks: [0, 0.5, 1],
  target: null, // a share drawn as a dashed line (e.g. the desk's goal), or null
});

/** 0..1, or null for a missing or meaningless value. */
export function clampShare(value) {
  if (typeof value !== "number" || !Number.isFinite(value)) return null;
  return Math.min(1, Math.max(0, value));
}

/** "50%" for 0.5; "–" for none. Whole percent: a chart of the day needs no more. */
export function percent(value) {
  const share = clampShare(value);
  return share === null ? "–" : `${Math.round(share * 100)}%`;
}

/** The level a share is drawn in: good from the target (default 0.8), poor below half of it. */
export function shareLevel(value, target = 0.8) {
  const share = clampShare(value);
  if (share === null) return "none";
  if (share >= target) return "good";
  return share >= target / 2 ? "fair" : "poor";
}

/**
 * The geometry of a bar chart of shares: `bars` are `{label, value, title?}`. Returns the
 * view box size, the plot area, one rectangle per bar (y grows downwards, as in SVG), the
 * horizontal grid lines with their labels, and the target line if any.
 */
export function barLayout(bars, options = {}) {
  const o = { ...DEFAULTS, ...options };
  const plot = {
    x: o.left,
    y: o.top,
    width: Math.max(0, o.width - o.left - o.right),
    height: Math.max(0, o.height - o.top - o.bottom),
  };
  const slot = bars.length ? plot.width / bars.length : 0;
  const barWidth = slot * (1 - o.gap);
  const baseline = plot.y + plot.height;
  const yOf = (share) => baseline - share * plot.height;
  const rects = bars.map((bar, index) => {
    const share = clampShare(bar.value);
    const height = share === null ? 0 : share * plot.height;
    const x = plot.x + index * slot + (slot - barWidth) / 2;
    return {
      label: String(bar.label),
      title: bar.title ?? `${bar.label}: ${percent(share)}`,
      value: share,
      empty: share === null,
      level: shareLevel(share, o.target ?? undefined),
      x: round(x),
      y: round(baseline - height),
      width: round(barWidth),
      height: round(height),
      labelX: round(x + barWidth / 2),
      labelY: round(baseline + o.bottom - 6),
    };
  });
  const grid = o.ticks.map((tick) => ({ value: tick, y: round(yOf(tick)), label: percent(tick) }));
  const target = clampShare(o.target);
  return {
    width: o.width,
    height: o.height,
    plot,
    baseline: round(baseline),
    bars: rects,
    grid,
    target: target === null ? null : { value: target, y: round(yOf(target)), label: percent(target) },
  };
}

/** Every n-th label, so that labels never overlap: at most `fit` of them shown. */
export function labelStep(count, fit) {
  if (count <= 0 || fit <= 0) return 1;
  return Math.max(1, Math.ceil(count / fit));
}

function round(value) {
  return Math.round(value * 100) / 100;
}

function node(doc, name, attributes = {}, text) {
  const element = doc.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

/**
 * The SVG element of a layout. `title` is the chart's accessible name; each bar carries its
 * own `<title>` (a tooltip and what a screen reader reads) and `data-label`/`data-value`.
 * `maxLabels` thins the labels under the bars (24 hours in 480 px).
 */
export function barChart(doc, layout, { title = "", maxLabels = 12 } = {}) {
  const svg = node(doc, "svg", {
    class: "bar-chart",
    viewBox: `0 0 ${layout.width} ${layout.height}`,
    role: "img",
    "aria-label": title,
    preserveAspectRatio: "xMidYMid meet",
  });
  if (title) svg.append(node(doc, "title", {}, title));
  for (const line of layout.grid) {
    svg.append(
      node(doc, "line", {
        class: "bar-chart-grid",
        x1: layout.plot.x,
        x2: layout.plot.x + layout.plot.width,
        y1: line.y,
        y2: line.y,
      }),
      node(doc, "text", { class: "bar-chart-axis", x: layout.plot.x - 4, y: line.y + 3, "text-anchor": "end" }, line.label),
    );
  }
  const step = labelStep(layout.bars.length, maxLabels);
  layout.bars.forEach((bar, index) => {
    const group = node(doc, "g", {
      class: `bar bar--${bar.level}`,
      "data-label": bar.label,
      "data-value": bar.value === null ? "" : bar.value,
    });
    group.append(node(doc, "title", {}, bar.title));
    if (bar.empty) {
      group.append(
        node(doc, "line", {
          class: "bar-empty",
          x1: bar.x,
          x2: bar.x + bar.width,
          y1: layout.baseline - 1,
          y2: layout.baseline - 1,
        }),
      );
    } else {
      group.append(node(doc, "rect", { x: bar.x, y: bar.y, width: bar.width, height: bar.height, rx: 2 }));
    }
    if (index % step === 0) {
      group.append(node(doc, "text", { class: "bar-label", x: bar.labelX, y: bar.labelY, "text-anchor": "middle" }, bar.label));
    }
    svg.append(group);
  });
  if (layout.target) {
    svg.append(
      node(doc, "line", {
        class: "bar-chart-target",
        x1: layout.plot.x,
        x2: layout.plot.x + layout.plot.width,
        y1: layout.target.y,
        y2: layout.target.y,
      }),
    );
  }
  return svg;
}
