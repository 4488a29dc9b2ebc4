// static/embed/loader.js is served after static/embed/bridge.js, both inside one function
// (chatserver/widget.py, loader_script): there the bridge's exports are plain names. This says
// so to tsc, with the bridge's own types. (Declared globally, so a module using one of these
// names without importing it would pass tsc: static/embed/bridge.js is the only one that
// defines them, and only the loader uses them.)

type Bridge = typeof import("../static/embed/bridge.js");

declare const cleanSettings: Bridge["cleanSettings"];
declare const queuedCalls: Bridge["queuedCalls"];
declare const foldCalls: Bridge["foldCalls"];
declare const nextOpen: Bridge["nextOpen"];
declare const callMessage: Bridge["callMessage"];
declare const envelope: Bridge["envelope"];
declare const readFrameMessage: Bridge["readFrameMessage"];
declare const originOf: Bridge["originOf"];
declare const METHODS: Bridge["METHODS"];

interface Window {
  /** The loader's API (and the calls queued before it ran). */
  $chatserver?: any;
  /** The host page's settings (docs: README, embedding). */
  chatserverSettings?: unknown;
}
