// What the browser code uses of the vendored Socket.IO client (static/vendor/socket.io.min.js,
// loaded by a classic <script> before the pages' modules): the global `io`, and the Socket's
// API as static/shared/socket.js calls it. Written by hand: the vendored file ships no types.

interface SocketManagerLike {
  on(event: string, listener: (...args: any[]) => void): unknown;
  removeAllListeners?(): unknown;
}

interface SocketLike {
  readonly connected: boolean;
  /** Whether the client will try to reconnect by itself. */
  readonly active: boolean;
  /** Emits queued while disconnected (the pages empty it: their outboxes decide). */
  sendBuffer: unknown[];
  readonly io: SocketManagerLike;
  on(event: string, listener: (...args: any[]) => void): unknown;
  off(event: string, listener?: (...args: any[]) => void): unknown;
  emit(event: string, ...args: any[]): unknown;
  timeout(ms: number): { emit(event: string, ...args: any[]): unknown };
  connect(): unknown;
  disconnect(): unknown;
  removeAllListeners(event?: string): unknown;
}

declare function io(namespace: string, options?: object): SocketLike;
