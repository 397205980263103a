/**
 * websocksy's `separator` framing: the stream is cut after each occurrence of a separator (one or more
 * bytes, given with escapes), and each piece is sent **with** its separator, as binary. `newline.ts` uses
 * the same cutter with a text-if-UTF-8 rule. A separator may be split across reads.
 */
import { isUtf8 } from 'node:buffer';
import {
  DEFAULT_MAX_FRAME,
  FramingConfigError,
  Pending,
  tooLarge,
  type Emit,
  type Framer,
} from './framer.js';

/** Parses websocksy's escapes: `\r \t \n \0 \f \\` and `\xHH`; other bytes stand for themselves. */
export function parseEscapes(text: string): Buffer {
  const out: number[] = [];
  const raw = Buffer.from(text, 'utf8');
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c !== 0x5c) {
      out.push(c);
      continue;
    }
    const next = raw[++i];
    switch (next) {
      case 0x72: out.push(13); break; // prettier-ignore
      case 0x74: out.push(9); break; // prettier-ignore
      case 0x6e: out.push(10); break; // prettier-ignore
      case 0x30: out.push(0); break; // prettier-ignore
      case 0x66: out.push(12); break; // prettier-ignore
      case 0x5c: out.push(0x5c); break; // prettier-ignore
      case 0x78: {
        const hex = raw.subarray(i + 1, i + 3).toString('latin1');
        if (!/^[0-9a-fA-F]{2}$/.test(hex))
          throw new FramingConfigError(`bad escape \\x${hex}: two hex digits expected`);
        out.push(parseInt(hex, 16));
        i += 2;
        break;
      }
      case undefined:
        throw new FramingConfigError('a lone \\ at the end of the separator');
      default:
        throw new FramingConfigError(
          `unknown escape \\${String.fromCharCode(next)} (known: \\r \\t \\n \\0 \\f \\\\ \\xHH)`,
        );
    }
  }
  return Buffer.from(out);
}

export class SeparatorFramer implements Framer {
  private readonly pending = new Pending();

  constructor(
    private readonly separator: Buffer,
    /** `binary`: every message binary (separator); `auto`: text when valid UTF-8 (newline). */
    private readonly type: 'binary' | 'auto' = 'binary',
    private readonly maxSize = DEFAULT_MAX_FRAME,
    private readonly name = 'separator',
  ) {
    if (separator.length === 0) throw new FramingConfigError(`${name}: the separator is empty`);
    if (separator.length > maxSize) throw new FramingConfigError(`${name}: separator longer than the cap`);
  }

  get buffered(): number {
    return this.pending.length;
  }

  private out(data: Buffer, emit: Emit): void {
    emit(data, this.type === 'binary' || !isUtf8(data));
  }

  push(chunk: Buffer, emit: Emit): void {
    const sep = this.separator;
    const pending = this.pending;
    let start = 0;
    // A separator that began in the held bytes and ends in this chunk.
    if (pending.length > 0 && sep.length > 1) {
      const back = Math.min(sep.length - 1, pending.length);
      const joint = Buffer.concat([pending.tail(back), chunk.subarray(0, sep.length - 1)]);
      const found = joint.indexOf(sep);
      if (found !== -1 && found < back) {
        const end = found + sep.length - back; // bytes of this chunk that finish the separator
        this.check(pending.length + end);
        this.out(pending.take(chunk.subarray(0, end)), emit);
        start = end;
      }
    }
    for (;;) {
      const at = chunk.indexOf(sep, start);
      if (at === -1) break;
      const end = at + sep.length;
      this.check(pending.length + end - start);
      this.out(pending.take(chunk.subarray(start, end)), emit);
      start = end;
    }
    if (start < chunk.length) {
      this.check(pending.length + chunk.length - start);
      pending.add(chunk.subarray(start));
    }
  }

  private check(size: number): void {
    if (size > this.maxSize) {
      this.pending.clear();
      throw tooLarge(this.name, this.maxSize);
    }
  }

  end(emit: Emit): void {
    if (this.pending.length > 0) this.out(this.pending.take(), emit);
  }
}

export function separatorFramer(config: string, maxSize?: number): SeparatorFramer {
  if (config === '') throw new FramingConfigError('separator: --framing-config must give the separator');
  return new SeparatorFramer(parseEscapes(config), 'binary', maxSize);
}
