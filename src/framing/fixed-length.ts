/** websocksy's `fixedlength` framing: the stream cut into binary messages of exactly N bytes. */
import { DEFAULT_MAX_FRAME, FramingConfigError, Pending, type Emit, type Framer } from './framer.js';

export class FixedLengthFramer implements Framer {
  private readonly pending = new Pending();

  constructor(
    private readonly size: number,
    maxSize = DEFAULT_MAX_FRAME,
  ) {
    if (!Number.isSafeInteger(size) || size < 1)
      throw new FramingConfigError(`fixedlength: the length must be a positive integer, not ${size}`);
    if (size > maxSize)
      throw new FramingConfigError(`fixedlength: length ${size} is over the message cap of ${maxSize} bytes`);
  }

  get buffered(): number {
    return this.pending.length;
  }

  push(chunk: Buffer, emit: Emit): void {
    let at = 0;
    while (at < chunk.length) {
      const take = Math.min(this.size - this.pending.length, chunk.length - at);
      const piece = chunk.subarray(at, at + take);
      at += take;
      if (this.pending.length + take === this.size) emit(this.pending.take(piece), true);
      else this.pending.add(piece);
    }
  }

  /** A short last segment still goes out (nothing is dropped). */
  end(emit: Emit): void {
    if (this.pending.length > 0) emit(this.pending.take(), true);
  }
}

export function fixedLengthFramer(config: string, maxSize?: number): FixedLengthFramer {
  const text = config.trim();
  if (!/^\d+$/.test(text))
    throw new FramingConfigError(`fixedlength: --framing-config must be a length in bytes, not '${config}'`);
  return new FixedLengthFramer(Number(text), maxSize);
}
