/**
 * Streaming UTF-8 validation (RFC 3629 as RFC 6455 §8.1 requires). A text message is checked piece by
 * piece as it arrives, so an invalid byte fails the connection at once, even mid-frame. Whole runs are
 * handed to `buffer.isUtf8` (SIMD in Node); only the bytes of a sequence cut at a piece edge go through the
 * byte-wise automaton below.
 */
import { isUtf8 } from 'node:buffer';

export class Utf8Validator {
  /** Continuation bytes still expected by the current sequence. */
  private need = 0;
  /** Allowed range of the next continuation byte (narrower after E0, ED, F0, F4). */
  private lower = 0x80;
  private upper = 0xbf;

  /** True when no multi-byte sequence is open: the text so far is complete, valid UTF-8. */
  get complete(): boolean {
    return this.need === 0;
  }

  reset(): void {
    this.need = 0;
    this.lower = 0x80;
    this.upper = 0xbf;
  }

  /** Feeds the next piece; returns false as soon as an invalid byte (or impossible prefix) is seen. */
  write(data: Uint8Array): boolean {
    const end = data.length;
    let i = 0;
    while (this.need > 0 && i < end) {
      if (!this.step(data[i])) return false;
      i++;
    }
    if (i === end) return true;
    // Find where a possibly unfinished sequence starts among the last three bytes.
    let tail = end;
    for (let back = end - 1; back >= end - 3 && back >= i; back--) {
      const byte = data[back];
      if (byte < 0x80) break;
      if (byte >= 0xc0) {
        const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2;
        if (back + length > end) tail = back;
        break;
      }
    }
    if (tail > i && !isUtf8(i === 0 && tail === end ? data : data.subarray(i, tail))) return false;
    for (let j = tail; j < end; j++) if (!this.step(data[j])) return false;
    return true;
  }

  private step(byte: number): boolean {
    if (this.need === 0) {
      if (byte < 0x80) return true;
      this.lower = 0x80;
      this.upper = 0xbf;
      if (byte >= 0xc2 && byte <= 0xdf) this.need = 1;
      else if (byte >= 0xe0 && byte <= 0xef) {
        this.need = 2;
        if (byte === 0xe0) this.lower = 0xa0;
        else if (byte === 0xed) this.upper = 0x9f;
      } else if (byte >= 0xf0 && byte <= 0xf4) {
        this.need = 3;
        if (byte === 0xf0) this.lower = 0x90;
        else if (byte === 0xf4) this.upper = 0x8f;
      } else return false;
      return true;
    }
    if (byte < this.lower || byte > this.upper) return false;
    this.need--;
    this.lower = 0x80;
    this.upper = 0xbf;
    return true;
  }
}

/** Whole-buffer check, for close reasons and other short, complete texts. */
export function isValidUtf8(data: Uint8Array): boolean {
  return isUtf8(data);
}
