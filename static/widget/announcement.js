// @ts-check
/*
 * Announcements (docs/protocol.md, `announcement`): the desk's incident notices, shown as
 * banners at the top of the widget and of the console. Each arrives in the reader's
 * language; a new version replaces the banner in place; a resolved one says so and may then
 * be dismissed.
 *
 * The pure state functions (no DOM, no socket) are tested in Node
 * (tests/js/announcement.test.mjs); `renderAnnouncements` draws them, with the page's own
 * translate function, so its strings come from the gettext catalogs like the rest.
 */

const SEVERITY_RANK = { critical: 0, warning: 1, info: 2 };
const STATUSES = new Set(["active", "resolved"]);

/** Whether a pushed payload is a well-formed announcement. */
export function isAnnouncement(payload) {
  return Boolean(
    payload && typeof payload === "object" &&
      typeof payload.id === "string" && payload.id &&
      Object.hasOwn(SEVERITY_RANK, payload.severity) &&
      typeof payload.text === "string" &&
      typeof payload.language === "string" &&
      STATUSES.has(payload.status) &&
      typeof payload.updated_at === "string" && !Number.isNaN(Date.parse(payload.updated_at)),
  );
}

/**
 * The notices held after `payload` arrives: a new one is added, a newer version replaces
 * the one held (an older one arriving late is ignored, and a resolved notice stays
 * resolved), the same version again (in another language: the reader changed theirs)
 * replaces its text. Malformed payloads change nothing.
 */
export function receiveAnnouncement(notices, payload) {
  if (!isAnnouncement(payload)) return notices;
  const held = notices.find((notice) => notice.id === payload.id);
  const notice = {
    id: payload.id,
    severity: payload.severity,
    text: payload.text,
    language: payload.language,
    status: payload.status,
    updatedAt: payload.updated_at,
  };
  if (!held) return [...notices, notice];
  const newer = Date.parse(payload.updated_at) - Date.parse(held.updatedAt);
  if (newer < 0) return notices;
  if (held.status === "resolved" && payload.status === "active") return notices;
  return notices.map((each) => (each.id === payload.id ? notice : each));
}

/** The notices without `id`, when it is resolved (an active notice cannot be dismissed). */
export function dismissAnnouncement(notices, id) {
  return notices.filter((notice) => notice.id !== id || notice.status !== "resolved");
}

/**
 * The notices still true after a (re)start: the server sends every active announcement
 * before it acknowledges `start`, so an active one it did not send again (`confirmed`
 * holds the ids it sent) was resolved while this page was away and is dropped.
 */
export function keepConfirmed(notices, confirmed) {
  return notices.filter((notice) => notice.status === "resolved" || confirmed.has(notice.id));
}

/** The order to show them in: active before resolved, the gravest first, then the newest. */
export function shownAnnouncements(notices) {
  return [...notices].sort(
    (a, b) =>
      Number(a.status === "resolved") - Number(b.status === "resolved") ||
      SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] ||
      Date.parse(b.updatedAt) - Date.parse(a.updatedAt),
  );
}

/** An active critical notice interrupts (role=alert); the others are polite (status). */
export function announcementRole(notice) {
  return notice.severity === "critical" && notice.status === "active" ? "alert" : "status";
}

function labelOf(notice, _) {
  if (notice.status === "resolved") return _("Resolved");
  switch (notice.severity) {
    case "critical":
      return _("Service alert");
    case "warning":
      return _("Warning");
    default:
      return _("Notice");
  }
}

/**
 * Draw `notices` into `container` (one banner each, kept by id so an update changes the
 * banner in place); `onDismiss(id)` when a resolved one's close button is pressed.
 */
export function renderAnnouncements(container, notices, _, onDismiss) {
  const shown = shownAnnouncements(notices);
  const kept = new Map(
    [...container.children].map((element) => [element.dataset.announcement, element]),
  );
  for (const notice of shown) {
    let banner = kept.get(notice.id);
    kept.delete(notice.id);
    if (!banner) {
      banner = document.createElement("div");
      banner.dataset.announcement = notice.id;
      const label = document.createElement("strong");
      label.className = "announcement-label";
      const text = document.createElement("p");
      text.className = "announcement-text";
      text.dir = "auto";
      const close = document.createElement("button");
      close.type = "button";
      close.className = "announcement-dismiss";
      close.textContent = "\u00d7";
      close.addEventListener("click", () => onDismiss(banner.dataset.announcement));
      banner.append(label, text, close);
    }
    banner.className = `announcement announcement--${notice.severity} announcement--${notice.status}`;
    banner.setAttribute("role", announcementRole(notice));
    banner.lang = notice.language;
    const [label, text, close] = banner.children;
    label.textContent = labelOf(notice, _);
    text.textContent = notice.text;
    close.hidden = notice.status !== "resolved";
    close.setAttribute("aria-label", _("Dismiss"));
    container.append(banner); // in order: appending an existing child moves it
  }
  for (const gone of kept.values()) gone.remove();
  container.hidden = shown.length === 0;
}

/**
 * The banners of a page: `show(payload)` for each pushed `announcement`, `redraw()` when
 * the page's strings change language; around a (re)start, `expectAgain()` before sending
 * it and `settle()` once acknowledged (see keepConfirmed).
 */
export function mountAnnouncements(container, _) {
  let notices = [];
  let confirmed = null; // ids sent since expectAgain(), until settle()
  const redraw = () => renderAnnouncements(container, notices, _, dismiss);
  function dismiss(id) {
    notices = dismissAnnouncement(notices, id);
    redraw();
  }
  return {
    show(payload) {
      notices = receiveAnnouncement(notices, payload);
      if (confirmed && isAnnouncement(payload)) confirmed.add(payload.id);
      redraw();
    },
    expectAgain() {
      confirmed = new Set();
    },
    settle() {
      if (confirmed === null) return;
      notices = keepConfirmed(notices, confirmed);
      confirmed = null;
      redraw();
    },
    redraw,
  };
}
