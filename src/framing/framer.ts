/**
 * The common shape of the stream framers used by per-connection bridges (websocksy's framing functions):
 * bytes from a peer go in, whole messages (each text or binary) come out through a callback, in order.
 * Every framer holds at most `maxSize` bytes of an unfinished message; a stream that would need more
 * fails with a FramingError instead of buffering without bound.
 */

/** Receives one framed message. `data` may be a view into a received chunk: use it before returning. */
export type Emit = (data: Buffer, binary: boolean) => void;

export interface Framer {
  /** Feeds the next bytes of the stream; complete messages are emitted before it returns. Throws FramingError. */
  push(chunk: Buffer, emit: Emit): void;
  /** The stream ended: whatever is buffered goes out as a last message (nothing is dropped). */
  end(emit: Emit): void;
  /** Bytes held for a message not yet complete. */
  readonly buffered: number;
}

/** A stream the framer cannot cut: `too-large` (no boundary within the cap) or `invalid` (a bad header). */
export class FramingError extends Error {
  override name = 'FramingError';
  constructor(
    message: string,
    readonly kind: 'too-large' | 'invalid',
  ) {
    super(message);
  }
}

/** A bad `--framing` / `--framing-config`. */
export class FramingConfigError extends Error {
  override name = 'FramingConfigError';
}

/** Default cap for a message being framed, bytes (websocksy's peer buffer is 16 KiB; ours is larger). */
export const DEFAULT_MAX_FRAME = 1024 * 1024;

/** The pieces of a message in progress, kept as views of the chunks they came in (copied once, at the end). */
export class Pending {
  private parts: Buffer[] = [];
  length = 0;

  add(piece: Buffer): void {
    if (piece.length === 0) return;
    this.parts.push(piece);
    this.length += piece.length;
  }

  /** The whole message (plus `last`, if given), and empties the list. No copy when it is one piece. */
  take(last?: Buffer): Buffer {
    if (last && last.length > 0) this.add(last);
    const parts = this.parts;
    const out = parts.length === 1 ? parts[0] : Buffer.concat(parts, this.length);
    this.parts = [];
    this.length = 0;
    return out;
  }

  /** The first `n` bytes (n ≤ length), without consuming them. */
  head(n: number): Buffer {
    if (this.parts.length > 0 && this.parts[0].length >= n) return this.parts[0].subarray(0, n);
    return Buffer.concat(this.parts, this.length).subarray(0, n);
  }

  /** The last `n` bytes (n ≤ length), without consuming them. */
  tail(n: number): Buffer {
    const last = this.parts[this.parts.length - 1];
    if (last && last.length >= n) return last.subarray(last.length - n);
    return Buffer.concat(this.parts, this.length).subarray(this.length - n);
  }

  clear(): void {
    this.parts = [];
    this.length = 0;
  }
}

export function tooLarge(what: string, max: number): FramingError {
  return new FramingError(`${what}: no message boundary within ${max} bytes`, 'too-large');
}
