/** Shared by the bench parent and the server children: implementation names, IPC messages, small helpers. */

/** The only address the benchmark ever listens on or connects to. */
export const HOST = '127.0.0.1';

export const IMPLS = ['wsbridge', 'ws', 'ws+native'] as const;
export type Impl = (typeof IMPLS)[number];

export const SCENARIOS = [
  'echo-small',
  'echo-64k',
  'echo-256k',
  'echo-1m',
  'echo-4m',
  'handshake',
  'memory',
  'broadcast',
  'deflate-echo-1k',
  'deflate-echo-64k',
  'deflate-broadcast',
] as const;
export type Scenario = (typeof SCENARIOS)[number];

/** Which native add-ons the ws implementation in a child actually uses (verified there, not assumed). */
export interface NativeInfo {
  /** bufferutil's compiled binding is loaded and ws's mask/unmask call it. */
  bufferutil: boolean;
  /** utf-8-validate's compiled binding is loaded. */
  utf8Validate: boolean;
  /** ws validates UTF-8 with Node's built-in `buffer.isUtf8` (it prefers it over utf-8-validate). */
  builtinIsUtf8: boolean;
  /** `.node` shared objects loaded in the process (from process.report). */
  addons: string[];
}

export interface Stats {
  /** process.cpuUsage() in µs. */
  user: number;
  system: number;
  /** The child's own monotonic clock, ms (for its CPU share over an interval). */
  now: number;
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  /** Connections the server holds (wsbridge: server.count; ws: wss.clients.size). */
  connections: number;
}

/** Parent → child. */
export type Command =
  | { cmd: 'stats'; id: number; gc?: boolean }
  | { cmd: 'payloads'; id: number; list: string[] }
  | { cmd: 'broadcast'; id: number; start: number; count: number }
  | { cmd: 'exit'; id: number };

/** Child → parent. */
export type Reply =
  | { type: 'ready'; port: number; native: NativeInfo | null; pid: number }
  | { type: 'stats'; id: number; stats: Stats }
  | { type: 'ok'; id: number; receivers?: number }
  | { type: 'error'; id?: number; message: string };

/** The glibc malloc policy bin/wsbridge starts node with (README, "Malloc policy"). */
export const MALLOC_POLICY = 'glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=134217728';

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Rejects after `ms` with `what` in the message unless `promise` settles first. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Sleeps `ms`, checking `failed()` every 100 ms at most; throws what it returns. */
export async function sleepChecking(ms: number, failed: () => Error | undefined): Promise<void> {
  const end = performance.now() + ms;
  for (;;) {
    const error = failed();
    if (error) throw error;
    const left = end - performance.now();
    if (left <= 0) return;
    await sleep(Math.min(left, 100));
  }
}

/** Polls `done` (and `failed`) every `pollMs` for up to `ms`. */
export async function waitFor(
  done: () => boolean,
  ms: number,
  what: string,
  failed: () => Error | undefined,
  pollMs = 10,
): Promise<void> {
  const end = performance.now() + ms;
  while (!done()) {
    const error = failed();
    if (error) throw error;
    if (performance.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(pollMs);
  }
}
