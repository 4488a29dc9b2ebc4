// @ts-check
/*
 * A message's time of day, for the widget and the console: the server's ISO 8601 instant in
 * a <time> element (its dateTime kept, so a change of language can format it again).
 */

/**
 * Hours and minutes (and seconds) in `locale`, or in the browser's own when `locale` is not
 * one Intl knows.
 * @param {string} locale
 * @param {boolean} [withSeconds]
 */
export function timeFormat(locale, withSeconds = false) {
  /** @type {Intl.DateTimeFormatOptions} */
  const options = { hour: "2-digit", minute: "2-digit" };
  if (withSeconds) options.second = "2-digit";
  try {
    return new Intl.DateTimeFormat(locale, options);
  } catch {
    return new Intl.DateTimeFormat(undefined, options);
  }
}

/**
 * The instant an ISO 8601 string names, or null (absent or not a date).
 * @param {unknown} iso
 */
export function instant(iso) {
  if (typeof iso !== "string" || !iso) return null;
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? null : date;
}

/**
 * Show `iso` in the <time> inside `item` (a message), formatted by `format`; nothing
 * changes when there is no <time> or no valid instant.
 * @param {Element} item
 * @param {unknown} iso
 * @param {Intl.DateTimeFormat} format
 */
export function setTime(item, iso, format) {
  const time = item.querySelector("time");
  const date = instant(iso);
  if (!time || !date) return;
  time.dateTime = /** @type {string} */ (iso);
  time.textContent = format.format(date);
}
