// @ts-check
/*
 * The two DOM helpers every page builds with: an element with a class and text (never HTML),
 * and a translated sentence filled with text people wrote, each piece isolated. No state;
 * `document` is touched only when called, so modules importing this still load in Node.
 */

import { displayText, templateParts } from "./common.js";

/**
 * A new `tag` element with `className` and, unless it is undefined or null, `text` as its
 * text.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {string} [className]
 * @param {string | null} [text]
 * @returns {HTMLElementTagNameMap[K]}
 */
export function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

/**
 * `template` (translated, with {placeholders}) filled with text people wrote, each value
 * shown by displayText in a <bdi> of its own: for node.append(...) or replaceChildren(...).
 * @param {string} template
 * @param {Record<string, unknown>} values
 * @returns {Array<string | HTMLElement>}
 */
export function withUserText(template, values) {
  return templateParts(template, values).map((part) =>
    typeof part === "string" ? part : element("bdi", "user-text", displayText(part.value)),
  );
}
