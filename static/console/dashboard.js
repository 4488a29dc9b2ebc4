// @ts-check
/*
 * The supervisors' dashboard, a view of the console (the "Dashboard" button in the top bar):
 * agents by presence and load, queues with their oldest wait, the share of chats answered
 * within 30 s today (the desk's day) by language and by hour as SVG bar charts, the SLA
 * warnings and breaches still standing, abandonment and CSAT today, and the day's figures
 * as CSV. Everything comes from GET /api/v1/dashboard (docs/protocol.md).
 *
 * Live without a push of its own: while it is open it reads the API again when the
 * console's socket brings a `queue`, `sla_warning` or `sla_breach` (at most every
 * REFRESH_GAP_MS), and every POLL_MS besides (today's shares move with time alone). It lives
 * inside the console, not on a page of its own, because a second `/agent` socket would set
 * the supervisor online whatever status they chose in the console.
 *
 * The pure functions (`tiles`, `languageBars`, `hourBars`, `formatWait`) are tested in Node
 * (tests/js/dashboard.test.mjs); console.js only mounts it and hands it its socket.
 */

import { barChart, barLayout, percent } from "./charts.js";
import { element as el } from "../shared/dom.js";
import { saveFile } from "../shared/transcript.js";

export const POLL_MS = 10000;
export const REFRESH_GAP_MS = 1500;
// The desk's goal for the share within 30 s, drawn as a line on the charts.
export const GOAL = 0.8;
const EVENTS = ["queue", "sla_warning", "sla_breach"];

/** 0:42, 12:05 or 1:02:03: a wait as a clock shows it, the same in every language. */
export function formatWait(seconds) {
  const whole = Math.max(0, Math.floor(Number(seconds) || 0));
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = String(whole % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

/** The headline figures of a snapshot, as numbers the view formats. */
export function tiles(snapshot) {
  const first = snapshot?.first_response || {};
  const abandonment = snapshot?.abandonment || {};
  const csat = snapshot?.csat || {};
  const counts = snapshot?.agents?.counts || {};
  return {
    within: {
      share: first.share_within_target ?? null,
      hit: first.within_target || 0,
      decided: (first.within_target || 0) + (first.missed || 0),
    },
    abandoned: {
      share: abandonment.share ?? null,
      count: abandonment.abandoned || 0,
      handoffs: abandonment.handoffs || 0,
    },
    csat: { average: csat.average ?? null, ratings: csat.ratings || 0, share: csat.csat ?? null },
    agents: { online: counts.online || 0, away: counts.away || 0, offline: counts.offline || 0 },
    waiting: (snapshot?.queues || []).reduce((sum, queue) => sum + (queue.waiting || 0), 0),
  };
}

/** One bar per language with a handoff today, named in the reader's language. */
export function languageBars(snapshot, languageName = (tag) => tag) {
  return (snapshot?.first_response?.by_language || []).map((row) => ({
    label: row.language,
    value: row.share_within_target,
    title: `${languageName(row.language)}: ${percent(row.share_within_target)} (${row.within_target}/${row.within_target + row.missed})`,
  }));
}

/** One bar per hour of the desk's day so far ("09" for 09:00-09:59). */
export function hourBars(snapshot) {
  return (snapshot?.first_response?.by_hour || []).map((row) => {
    const hour = String(row.hour).padStart(2, "0");
    const decided = row.within_target + row.missed;
    return {
      label: hour,
      value: row.share_within_target,
      title: decided ? `${hour}:00 ${percent(row.share_within_target)} (${row.within_target}/${decided})` : `${hour}:00 –`,
    };
  });
}

/**
 * Mount the dashboard in the console view. `options`: `_` (translate), `token()`,
 * `request(path)` (the console's JSON GET), `languageName`, `teamName`, `statusName`,
 * `clockName`, `formatTime(date)`, `onOpen()` (another view closes).
 */
export function mountDashboard(consoleView, options) {
  const { _ } = options;
  const toggle = el("button", "button button--ghost-dark dashboard-toggle");
  toggle.type = "button";
  toggle.id = "dashboard-toggle";
  toggle.hidden = true;
  toggle.setAttribute("aria-pressed", "false");
  const logout = consoleView.querySelector("#logout");
  logout.parentElement.insertBefore(toggle, logout);

  const root = el("section", "dashboard");
  root.id = "dashboard";
  root.hidden = true;
  root.setAttribute("aria-labelledby", "dashboard-title");
  consoleView.append(root);

  let snapshot = null;
  let failed = false;
  let open = false;
  let allowed = false;
  let poll = null;
  let pending = null;
  let lastRead = 0;
  let socket = null;

  async function refresh() {
    if (!open) return;
    lastRead = Date.now();
    let answer = null;
    try {
      answer = await options.request("/api/v1/dashboard");
    } catch {
      answer = null;
    }
    if (!open) return;
    failed = answer?.status !== 200 || !answer.data;
    if (!failed) snapshot = answer.data;
    render();
  }

  /** A push came: read again soon, not for every push of a busy desk. */
  function nudge() {
    if (!open || pending) return;
    const wait = Math.max(0, lastRead + REFRESH_GAP_MS - Date.now());
    pending = setTimeout(() => {
      pending = null;
      refresh();
    }, wait);
  }

  function setOpen(value) {
    open = value && allowed;
    root.hidden = !open;
    consoleView.classList.toggle("is-dashboard", open);
    toggle.setAttribute("aria-pressed", String(open));
    clearInterval(poll);
    poll = null;
    if (open) {
      options.onOpen?.(); // one view over the panes at a time
      poll = setInterval(refresh, POLL_MS);
      render();
      refresh();
    }
    label();
  }

  toggle.addEventListener("click", () => setOpen(!open));

  async function downloadCsv(button) {
    const token = options.token();
    if (!token) return;
    button.disabled = true;
    try {
      const response = await fetch("/api/v1/dashboard?format=csv", {
        headers: { Authorization: "Bearer " + token },
        credentials: "same-origin",
        cache: "no-store",
      });
      if (!response.ok) throw new Error(String(response.status));
      const name = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
      saveFile(await response.blob(), name ? name[1] : "dashboard.csv");
    } catch {
      failed = true;
      render();
    } finally {
      button.disabled = false;
    }
  }

  function label() {
    toggle.textContent = open ? _("Back to chats") : _("Dashboard");
  }

  function tile(name, value, detail, level) {
    const box = el("div", "dashboard-tile");
    box.dataset.tile = name;
    if (level) box.dataset.level = level;
    box.append(el("p", "dashboard-tile-title", detailTitle(name)), el("p", "dashboard-tile-value", value), el("p", "dashboard-tile-detail", detail));
    return box;
  }

  function detailTitle(name) {
    switch (name) {
      case "within":
        return _("Answered within 30 s");
      case "abandoned":
        return _("Abandoned");
      case "csat":
        return _("Satisfaction");
      case "agents":
        return _("Agents");
      default:
        return _("Waiting");
    }
  }

  function chart(id, titleText, bars) {
    const box = el("figure", "dashboard-chart");
    box.id = id;
    box.append(el("figcaption", "dashboard-chart-title", titleText));
    if (!bars.some((bar) => bar.value !== null && bar.value !== undefined)) {
      box.append(el("p", "empty", _("Nothing measured yet today.")));
    }
    const layout = barLayout(bars, { width: 480, height: 180, target: GOAL });
    box.append(barChart(document, layout, { title: titleText, maxLabels: 12 }));
    return box;
  }

  function section(titleText, ...children) {
    const box = el("section", "dashboard-section");
    box.append(el("h3", "dashboard-section-title", titleText), ...children);
    return box;
  }

  function agentsTable(agents) {
    if (!agents.length) return el("p", "empty", _("No agents yet."));
    const table = el("table", "dashboard-table dashboard-agents");
    const head = el("tr");
    head.append(el("th", "", _("Agent")), el("th", "", _("Status")), el("th", "num", _("Load")));
    const body = el("tbody");
    for (const agent of agents) {
      const row = el("tr");
      row.dataset.status = agent.status;
      const name = el("td", "dashboard-agent-name");
      name.append(el("span", "status-dot status-dot--" + agent.status), el("bdi", "", agent.name));
      row.append(name, el("td", "", options.statusName(agent.status)), el("td", "num", `${agent.load} / ${agent.capacity}`));
      body.append(row);
    }
    table.append(el("thead"), body);
    table.tHead.append(head);
    return table;
  }

  function queuesTable(queues) {
    if (!queues.length) return el("p", "empty", _("All queues are empty."));
    const table = el("table", "dashboard-table dashboard-queues");
    const head = el("tr");
    head.append(el("th", "", _("Queue")), el("th", "num", _("Waiting")), el("th", "num", _("Longest")));
    const body = el("tbody");
    for (const queue of queues) {
      const row = el("tr");
      row.dataset.queue = queue.queue;
      row.append(
        el("td", "", `${options.languageName(queue.language)} · ${options.teamName(queue.team)}`),
        el("td", "num", String(queue.waiting)),
        el("td", "num", formatWait(queue.oldest_wait_seconds)),
      );
      body.append(row);
    }
    table.append(el("thead"), body);
    table.tHead.append(head);
    return table;
  }

  function alertsList(alerts) {
    if (!alerts.length) return el("p", "empty", _("No warnings or breaches."));
    const list = el("ol", "alerts dashboard-alerts");
    for (const alert of alerts) {
      const row = el("li", "alert alert--" + alert.type);
      row.dataset.conversationId = alert.conversation_id;
      const top = el("div", "alert-top");
      const raised = el("time", "alert-time", options.formatTime(new Date(alert.raised_at)));
      raised.dateTime = alert.raised_at;
      top.append(el("span", "alert-type", alert.type === "breach" ? _("Breach") : _("Warning")), el("span", "alert-kind", options.clockName(alert.kind)), raised);
      const what = alert.tracking_number
        ? `${alert.channel === "callback" ? _("Callback") : _("Message")} · ${alert.tracking_number}`
        : [options.languageName(alert.language), alert.team ? options.teamName(alert.team) : ""].filter(Boolean).join(" · ");
      const detail =
        alert.remaining_seconds < 0
          ? _("Overdue by {time}", { time: formatWait(-alert.remaining_seconds) })
          : _("{seconds} s left", { seconds: Math.round(alert.remaining_seconds) });
      row.append(top, el("div", "alert-what", what), el("div", "alert-detail", detail));
      list.append(row);
    }
    return list;
  }

  function render() {
    label();
    if (!open) return;
    const head = el("div", "dashboard-head");
    const title = el("h2", "dashboard-title", _("Supervisor dashboard"));
    title.id = "dashboard-title";
    const meta = el("p", "dashboard-meta");
    if (snapshot) {
      meta.textContent = [
        _("Today ({zone})", { zone: snapshot.timezone }),
        _("Updated {time}", { time: options.formatTime(new Date(snapshot.generated_at)) }),
      ].join(" · ");
    }
    const csv = el("button", "button button--small dashboard-csv", _("Download CSV"));
    csv.type = "button";
    csv.disabled = !snapshot;
    csv.addEventListener("click", () => downloadCsv(csv));
    head.append(title, meta, csv);
    const parts = [head];
    if (failed) {
      const problem = el("p", "form-error dashboard-error", _("The dashboard could not be loaded."));
      problem.setAttribute("role", "alert");
      parts.push(problem);
    }
    if (snapshot) {
      const t = tiles(snapshot);
      const row = el("div", "dashboard-tiles");
      row.append(
        tile("within", percent(t.within.share), _("{count} of {total}", { count: t.within.hit, total: t.within.decided }), t.within.share === null ? "" : t.within.share >= GOAL ? "good" : "bad"),
        tile("abandoned", percent(t.abandoned.share), _("{count} of {total}", { count: t.abandoned.count, total: t.abandoned.handoffs })),
        tile(
          "csat",
          t.csat.average === null ? "–" : t.csat.average.toFixed(2),
          _("{count} ratings, {share} gave 4 or 5", { count: t.csat.ratings, share: percent(t.csat.share) }),
        ),
        tile("agents", String(t.agents.online), _("{online} online · {away} away · {offline} offline", t.agents)),
        tile("waiting", String(t.waiting), ""),
      );
      const charts = el("div", "dashboard-charts");
      charts.append(
        chart("dashboard-by-language", _("Within 30 s by language"), languageBars(snapshot, options.languageName)),
        chart("dashboard-by-hour", _("Within 30 s by hour"), hourBars(snapshot)),
      );
      const lists = el("div", "dashboard-lists");
      lists.append(
        section(_("SLA warnings and breaches"), alertsList(snapshot.alerts || [])),
        section(_("Queues"), queuesTable(snapshot.queues || [])),
        section(_("Agents"), agentsTable(snapshot.agents?.agents || [])),
      );
      parts.push(row, charts, lists);
    }
    root.replaceChildren(...parts);
  }

  return {
    /** A supervisor logged in: the button shows. */
    start() {
      allowed = true;
      toggle.hidden = false;
      label();
    },
    /** Logged out, or not a supervisor: nothing shows, nothing polls. */
    stop() {
      setOpen(false);
      allowed = false;
      toggle.hidden = true;
      snapshot = null;
      root.replaceChildren();
    },
    /** The console's socket (again after each new one): its pushes refresh the view. */
    listen(current) {
      if (socket === current) return;
      socket = current;
      for (const event of EVENTS) current.on(event, nudge);
    },
    show: () => setOpen(true),
    hide: () => open && setOpen(false),
    relabel: render,
    refresh,
  };
}
