/**
 * What the pipe scenario's processes share: the 64-byte message (sequence number and the publisher's
 * timestamp), the clock, the latency histogram and the messages between the coordinator and its client
 * workers.
 *
 * Clock: `process.hrtime` is CLOCK_MONOTONIC, one clock for every process on the machine, with ns
 * resolution; the publisher stamps each line with it (µs) and the clients subtract it from their own
 * reading on arrival, so latency = receive time − publisher's write time, across processes.
 */

/** Bytes of a message (the line without its newline). */
export const MESSAGE_SIZE = 64;
/** Bytes the publisher writes per message: the message and '\n'. */
export const LINE_SIZE = MESSAGE_SIZE + 1;

const SEQ_AT = 1;
const SEQ_DIGITS = 12;
const TIME_AT = SEQ_AT + SEQ_DIGITS + 1;
const TIME_DIGITS = 16;
const FILL_AT = TIME_AT + TIME_DIGITS + 1;
/** The rest of every message: fixed, so every byte of it can be checked. */
export const FILLER = Buffer.from(
  'abcdefghijklmnopqrstuvwxyz0123456789'.slice(0, MESSAGE_SIZE - FILL_AT),
  'latin1',
);

/** Monotonic time in µs (same clock in every process). */
export function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

function writeDigits(buf: Buffer, at: number, value: number, digits: number): void {
  for (let i = digits - 1; i >= 0; i--) {
    buf[at + i] = 0x30 + (value % 10);
    value = Math.floor(value / 10);
  }
}

/** Writes line `#SSSSSSSSSSSS TTTTTTTTTTTTTTTT filler…\n` (LINE_SIZE bytes) at `at`. */
export function encodeLine(buf: Buffer, at: number, seq: number, timeUs: number): void {
  buf[at] = 0x23; // '#'
  writeDigits(buf, at + SEQ_AT, seq, SEQ_DIGITS);
  buf[at + TIME_AT - 1] = 0x20;
  writeDigits(buf, at + TIME_AT, timeUs, TIME_DIGITS);
  buf[at + FILL_AT - 1] = 0x20;
  FILLER.copy(buf, at + FILL_AT);
  buf[at + MESSAGE_SIZE] = 0x0a;
}

function readDigits(buf: Buffer, at: number, digits: number): number {
  let value = 0;
  for (let i = 0; i < digits; i++) {
    const d = buf[at + i] - 0x30;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
}

/**
 * Checks every byte of the MESSAGE_SIZE-byte message at `at`; returns its sequence number and sets
 * `out.time`, or returns -1 when it is not a well-formed message.
 */
export function decodeMessage(buf: Buffer, at: number, out: { time: number }): number {
  if (buf[at] !== 0x23 || buf[at + TIME_AT - 1] !== 0x20 || buf[at + FILL_AT - 1] !== 0x20) return -1;
  if (buf.compare(FILLER, 0, FILLER.length, at + FILL_AT, at + MESSAGE_SIZE) !== 0) return -1;
  const seq = readDigits(buf, at + SEQ_AT, SEQ_DIGITS);
  const time = readDigits(buf, at + TIME_AT, TIME_DIGITS);
  if (seq < 0 || time < 0) return -1;
  out.time = time;
  return seq;
}

// Latency histogram: 10 µs buckets up to 100 ms, then 1 ms buckets up to 10 s, then one overflow bucket.

const FINE = 10_000;
const COARSE = 9_900;
export const HISTOGRAM_SIZE = FINE + COARSE + 1;

export function bucketOf(us: number): number {
  if (us < 0) return 0;
  if (us < 100_000) return Math.floor(us / 10);
  const b = FINE + Math.floor((us - 100_000) / 1000);
  return b < FINE + COARSE ? b : HISTOGRAM_SIZE - 1;
}

/** Upper edge of a bucket, µs (Infinity for the overflow bucket). */
export function bucketTop(b: number): number {
  if (b < FINE) return (b + 1) * 10;
  if (b < FINE + COARSE) return 100_000 + (b - FINE + 1) * 1000;
  return Infinity;
}

/** The p-th percentile (0–100) of a histogram, µs (upper bucket edge), NaN when empty. */
export function percentile(hist: ArrayLike<number>, total: number, p: number): number {
  if (total === 0) return NaN;
  const rank = Math.max(1, Math.ceil((total * p) / 100));
  let seen = 0;
  for (let b = 0; b < hist.length; b++) {
    seen += hist[b];
    if (seen >= rank) return bucketTop(b);
  }
  return Infinity;
}

// Coordinator ↔ client worker.

/** One rate step, as the workers must account it. */
export interface StepWindow {
  /** Sequence numbers of the step: [firstSeq, endSeq). */
  firstSeq: number;
  endSeq: number;
  /** Measured messages (published after the warm-up): [seqFrom, endSeq). */
  seqFrom: number;
  /** Deliveries received in [tFrom, tTo] (µs, monotonic) are counted for deliveries/s. */
  tFrom: number;
  tTo: number;
}

export type ToWorker =
  | { cmd: 'step'; window: StepWindow }
  | { cmd: 'progress'; id: number }
  | { cmd: 'finish'; id: number }
  | { cmd: 'close' };

export interface StepCounts {
  /** Latencies of measured messages (see HISTOGRAM_SIZE). */
  histogram: Uint32Array;
  /** Measured messages received. */
  received: number;
  /** Deliveries (any message) received inside the time window. */
  inTime: number;
  /** Messages of the step (warm-up included) skipped, a later one arriving first: dropped by the server. */
  lost: number;
  /** Messages of the step (warm-up included) not received when the step was finished (late or lost). */
  missing: number;
}

export type FromWorker =
  | { type: 'ready'; clients: number }
  | { type: 'progress'; id: number; minNext: number; received: number }
  | { type: 'finish'; id: number; counts: StepCounts }
  | { type: 'error'; message: string };
