// @ts-check
/*
 * Typing notices and seen receipts, for the widget and the console (docs/protocol.md,
 * `typing`, `seen`). Pure decisions first (tested under `node --test`,
 * tests/js/typing.test.mjs), then two small objects that run them on timers.
 *
 * Sending: while someone types, at most one `true` every TYPING_INTERVAL_MS; a `false`
 * when they send, leave the box (blur) or stop for TYPING_IDLE_MS. Never the text.
 * Receiving: a notice that is not refreshed within TYPING_EXPIRE_MS goes away by itself
 * (a `false` lost with a dropped connection must not leave "is typing…" up for ever).
 */

export const TYPING_INTERVAL_MS = 2500;
export const TYPING_IDLE_MS = 5000;
export const TYPING_EXPIRE_MS = 6000;

/** What the sender knows: whether it last said `true`, when, and the last keystroke. */
export function initialTyping() {
  return { typing: false, sentAt: -Infinity, inputAt: -Infinity };
}

/**
 * A keystroke at `now`: the next state, and `true` when a notice is due (the first of a
 * burst, or a refresh once `interval` has passed since the last one), else null.
 */
export function typingInput(state, now, interval = TYPING_INTERVAL_MS) {
  const due = !state.typing || now - state.sentAt >= interval;
  return {
    state: { typing: true, sentAt: due ? now : state.sentAt, inputAt: now },
    send: due ? true : null,
  };
}

/** Sent, blurred, or idle: `false` if a `true` went out since the last `false`, else null. */
export function typingStop(state) {
  return { state: { ...state, typing: false }, send: state.typing ? false : null };
}

/** Is the typist idle at `now` (no keystroke for `idle` ms while a `true` stands)? */
export function typingIdle(state, now, idle = TYPING_IDLE_MS) {
  return state.typing && now - state.inputAt >= idle;
}

/** Is a notice received at `receivedAt` still to be shown at `now`? */
export function typingFresh(receivedAt, now, expire = TYPING_EXPIRE_MS) {
  return Number.isFinite(receivedAt) && now - receivedAt < expire;
}

/**
 * The seq to send in `seen`, or null: the newest agent message shown, when the page is
 * visible and it is newer than the last one sent.
 */
export function seenToSend(lastAgentSeq, sentSeq, visible) {
  if (!visible || !Number.isInteger(lastAgentSeq) || lastAgentSeq < 1) return null;
  return lastAgentSeq > (sentSeq || 0) ? lastAgentSeq : null;
}

const defaultTimers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle),
};

/**
 * A typist: call `input()` on every keystroke and `stop()` on send or blur; `send(bool)`
 * is called with the notices due (the idle `false` comes from a timer).
 */
export function typingSender(send, { interval = TYPING_INTERVAL_MS, idle = TYPING_IDLE_MS, timers = defaultTimers } = {}) {
  let state = initialTyping();
  let timer = null;
  const emit = (value) => {
    if (value === null) return;
    try {
      send(value);
    } catch {
      // a notice is worth nothing later: never retried
    }
  };
  const stop = () => {
    if (timer !== null) timers.clearTimeout(timer);
    timer = null;
    const next = typingStop(state);
    state = next.state;
    emit(next.send);
  };
  const check = () => {
    timer = null;
    if (typingIdle(state, timers.now(), idle)) stop();
    else if (state.typing) timer = timers.setTimeout(check, Math.max(0, state.inputAt + idle - timers.now()));
  };
  return {
    input() {
      const next = typingInput(state, timers.now(), interval);
      state = next.state;
      emit(next.send);
      if (timer === null) timer = timers.setTimeout(check, idle);
    },
    stop,
    /** Forget without telling (the connection dropped: the other side's notice expires). */
    reset() {
      if (timer !== null) timers.clearTimeout(timer);
      timer = null;
      state = initialTyping();
    },
    get typing() {
      return state.typing;
    },
  };
}

/**
 * What a receiver shows: `set(key, typing)` for each notice; `onChange(key, shown)` when a
 * key's indicator appears or goes (a `false`, or TYPING_EXPIRE_MS without a refresh).
 */
export function typingIndicator(onChange, { expire = TYPING_EXPIRE_MS, timers = defaultTimers } = {}) {
  const shown = new Map(); // key -> {at, timer}
  const hide = (key) => {
    const entry = shown.get(key);
    if (!entry) return;
    timers.clearTimeout(entry.timer);
    shown.delete(key);
    onChange(key, false);
  };
  const expireCheck = (key) => {
    const entry = shown.get(key);
    if (!entry) return;
    if (typingFresh(entry.at, timers.now(), expire)) {
      entry.timer = timers.setTimeout(() => expireCheck(key), entry.at + expire - timers.now());
    } else {
      hide(key);
    }
  };
  return {
    set(key, typing) {
      if (!typing) {
        hide(key);
        return;
      }
      const entry = shown.get(key);
      if (entry) {
        entry.at = timers.now();
        return;
      }
      shown.set(key, { at: timers.now(), timer: timers.setTimeout(() => expireCheck(key), expire) });
      onChange(key, true);
    },
    clear: hide,
    has: (key) => shown.has(key),
  };
}
