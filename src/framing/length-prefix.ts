/**
 * websocksy's `dynamic32` framing: a 32-bit length at byte `offset` of each record; the record is
 * `offset + 4 + static + length` bytes and goes out whole, as binary. Config `offset=N,static=N,endian=
 * big|little` (defaults 0, 0, little, as websocksy). `static` may be negative, for protocols whose
 * length counts the header too; a record whose size comes out smaller than its header is refused.
 */
import {
  DEFAULT_MAX_FRAME,
  FramingConfigError,
  FramingError,
  Pending,
  type Emit,
  type Framer,
} from './framer.js';

export interface LengthPrefixOptions {
  offset: number;
  static: number;
  endian: 'big' | 'little';
}

export class LengthPrefixFramer implements Framer {
  private readonly pending = new Pending();
  /** Size of the record being read, once its header is in. */
  private need: number | undefined;
  private readonly headerSize: number;

  constructor(
    private readonly options: LengthPrefixOptions,
    private readonly maxSize = DEFAULT_MAX_FRAME,
  ) {
    this.headerSize = options.offset + 4;
    if (this.headerSize > maxSize)
      throw new FramingConfigError(`dynamic32: offset ${options.offset} is over the message cap`);
  }

  get buffered(): number {
    return this.pending.length;
  }

  push(chunk: Buffer, emit: Emit): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.need === undefined) {
        const take = Math.min(this.headerSize - this.pending.length, chunk.length - at);
        this.pending.add(chunk.subarray(at, at + take));
        at += take;
        if (this.pending.length < this.headerSize) return;
        const head = this.pending.head(this.headerSize);
        const { offset, endian } = this.options;
        const length = endian === 'big' ? head.readUInt32BE(offset) : head.readUInt32LE(offset);
        const total = this.headerSize + this.options.static + length;
        if (total < this.headerSize) {
          this.pending.clear();
          throw new FramingError(`dynamic32: record length ${length} is shorter than its header`, 'invalid');
        }
        if (total > this.maxSize) {
          this.pending.clear();
          throw new FramingError(
            `dynamic32: record of ${total} bytes is over the cap of ${this.maxSize}`,
            'too-large',
          );
        }
        this.need = total;
        if (this.pending.length === total) {
          this.need = undefined;
          emit(this.pending.take(), true);
        }
        continue;
      }
      const take = Math.min(this.need - this.pending.length, chunk.length - at);
      const piece = chunk.subarray(at, at + take);
      at += take;
      if (this.pending.length + take === this.need) {
        this.need = undefined;
        emit(this.pending.take(piece), true);
      } else this.pending.add(piece);
    }
  }

  /** A truncated last record still goes out, as it is (nothing is dropped). */
  end(emit: Emit): void {
    this.need = undefined;
    if (this.pending.length > 0) emit(this.pending.take(), true);
  }
}

export function parseLengthPrefixConfig(config: string): LengthPrefixOptions {
  const options: LengthPrefixOptions = { offset: 0, static: 0, endian: 'little' };
  for (const item of config.split(/[,\s]+/).filter(Boolean)) {
    const eq = item.indexOf('=');
    const key = eq === -1 ? item : item.slice(0, eq).trim().toLowerCase();
    const value = eq === -1 ? '' : item.slice(eq + 1).trim();
    if (key === 'offset' || key === 'static') {
      const pattern = key === 'offset' ? /^\d+$/ : /^-?\d+$/;
      if (!pattern.test(value))
        throw new FramingConfigError(
          `dynamic32: ${key} must be an integer${key === 'offset' ? ' ≥ 0' : ''}, not '${value}'`,
        );
      options[key] = Number(value);
    } else if (key === 'endian') {
      const v = value.toLowerCase();
      if (v !== 'big' && v !== 'little')
        throw new FramingConfigError(`dynamic32: endian must be big or little, not '${value}'`);
      options.endian = v;
    } else throw new FramingConfigError(`dynamic32: unknown key '${key}' (offset, static, endian)`);
  }
  return options;
}

export function lengthPrefixFramer(config: string, maxSize?: number): LengthPrefixFramer {
  return new LengthPrefixFramer(parseLengthPrefixConfig(config), maxSize);
}
