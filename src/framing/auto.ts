/**
 * websocksy's `auto` and `binary` framings: each read of the peer is sent at once (cut into pieces of at
 * most `maxSize` bytes). `auto` sends a piece as text when it is valid UTF-8, else as binary; unlike
 * websocksy, a read that ends inside a multi-byte character keeps those 1–3 bytes for the next read, so
 * UTF-8 text is not turned into binary by where the reads happen to fall.
 */
import { isUtf8 } from 'node:buffer';
import { DEFAULT_MAX_FRAME, type Emit, type Framer } from './framer.js';

/** Length of an incomplete UTF-8 sequence at the end of `data` (0 when it ends on a boundary). */
export function incompleteUtf8Tail(data: Buffer): number {
  const n = data.length;
  for (let back = 1; back <= 3 && back <= n; back++) {
    const byte = data[n - back];
    if ((byte & 0xc0) !== 0x80) {
      // a lead byte: how long its sequence should be
      const need = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
      return need > back ? back : 0;
    }
  }
  return 0;
}

export class ChunkFramer implements Framer {
  private carry: Buffer | undefined;

  constructor(
    private readonly mode: 'auto' | 'binary',
    private readonly maxSize = DEFAULT_MAX_FRAME,
  ) {}

  get buffered(): number {
    return this.carry?.length ?? 0;
  }

  push(chunk: Buffer, emit: Emit): void {
    if (this.mode === 'binary') {
      this.pieces(chunk, (piece) => emit(piece, true));
      return;
    }
    let data = this.carry ? Buffer.concat([this.carry, chunk]) : chunk;
    this.carry = undefined;
    if (!isUtf8(data)) {
      const keep = incompleteUtf8Tail(data);
      if (keep > 0 && keep < data.length && isUtf8(data.subarray(0, data.length - keep))) {
        this.carry = Buffer.from(data.subarray(data.length - keep));
        data = data.subarray(0, data.length - keep);
      } else if (keep > 0 && keep === data.length) {
        this.carry = Buffer.from(data);
        return;
      }
    }
    this.pieces(data, (piece) => emit(piece, !isUtf8(piece)));
  }

  end(emit: Emit): void {
    if (this.carry) emit(this.carry, true);
    this.carry = undefined;
  }

  private pieces(data: Buffer, out: (piece: Buffer) => void): void {
    if (data.length === 0) return;
    for (let at = 0; at < data.length;) {
      let end = Math.min(at + this.maxSize, data.length);
      // Do not cut a character in two where it can be helped.
      if (end < data.length && this.mode === 'auto') {
        let back = end;
        while (back > at && (data[back] & 0xc0) === 0x80 && end - back < 3) back--;
        if (back > at) end = back;
      }
      out(data.subarray(at, end));
      at = end;
    }
  }
}
