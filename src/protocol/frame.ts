/** Frame header encoding and masking (RFC 6455 §5.2, §5.3). */

/** Frame opcodes (RFC 6455 §5.2). */
export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;

/** Largest payload of a control frame (RFC 6455 §5.5). */
export const MAX_CONTROL_PAYLOAD = 125;

/** Size of a frame header for a payload of `length` bytes. */
export function headerSize(length: number, masked: boolean): number {
  const base = length < 126 ? 2 : length < 0x10000 ? 4 : 10;
  return masked ? base + 4 : base;
}

/**
 * Writes a frame header into `target` at `offset` and returns the offset where the payload (or the mask
 * key, when `masked`) starts. The mask key itself is the caller's to write.
 */
export function writeHeader(
  target: Buffer,
  offset: number,
  opcode: number,
  length: number,
  fin = true,
  rsv1 = false,
  masked = false,
): number {
  target[offset] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
  const maskBit = masked ? 0x80 : 0;
  if (length < 126) {
    target[offset + 1] = maskBit | length;
    return offset + 2;
  }
  if (length < 0x10000) {
    target[offset + 1] = maskBit | 126;
    target[offset + 2] = length >>> 8;
    target[offset + 3] = length & 0xff;
    return offset + 4;
  }
  target[offset + 1] = maskBit | 127;
  target.writeUInt32BE(Math.floor(length / 0x100000000), offset + 2);
  target.writeUInt32BE(length >>> 0, offset + 6);
  return offset + 10;
}

/** Encodes a whole unmasked frame (server side) as one buffer: one copy of the payload, one write. */
export function encodeFrame(opcode: number, payload: Uint8Array | string, fin = true, rsv1 = false): Buffer {
  const length = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  const frame = Buffer.allocUnsafe(headerSize(length, false) + length);
  const start = writeHeader(frame, 0, opcode, length, fin, rsv1, false);
  if (typeof payload === 'string') frame.write(payload, start);
  else frame.set(payload, start);
  return frame;
}

/** In-place unmask from a native add-on, used for large payloads when the host registers one. */
type NativeUnmask = (data: Uint8Array, key: Uint8Array) => void;
let nativeUnmask: NativeUnmask | undefined;
/** Below this size the JS loop is as fast as a native call. */
const NATIVE_MASK_MIN = 1024;
const rotatedKey = new Uint8Array(4);

/**
 * Registers a native unmask (e.g. `bufferutil`'s) for payloads of 1 KiB and more; `undefined` goes back
 * to the JS loop. The protocol core stays free of I/O and of native code: the server layer decides.
 */
export function setNativeUnmask(unmask: NativeUnmask | undefined): void {
  nativeUnmask = unmask;
}

/** Copy-and-unmask from a native add-on: `output[offset + i] = source[i] ^ key[i & 3]` for i < length. */
type NativeMaskCopy = (
  source: Uint8Array,
  key: Uint8Array,
  output: Uint8Array,
  offset: number,
  length: number,
) => void;
let nativeMaskCopy: NativeMaskCopy | undefined;

/** Registers a native copy-and-unmask (bufferutil's `mask`); `undefined` goes back to copy + JS loop. */
export function setNativeMaskCopy(maskCopy: NativeMaskCopy | undefined): void {
  nativeMaskCopy = maskCopy;
}

/**
 * Writes `source` XOR the key (from key position `keyOffset`) into `output` at `outOffset`: one pass
 * instead of a copy and then an unmask, for payloads assembled from several reads.
 */
export function maskInto(
  source: Uint8Array,
  key: Uint8Array,
  keyOffset: number,
  output: Uint8Array,
  outOffset: number,
): void {
  const length = source.length;
  if (nativeMaskCopy !== undefined && length >= NATIVE_MASK_MIN) {
    if (keyOffset === 0) nativeMaskCopy(source, key, output, outOffset, length);
    else {
      for (let k = 0; k < 4; k++) rotatedKey[k] = key[(k + keyOffset) & 3];
      nativeMaskCopy(source, rotatedKey, output, outOffset, length);
    }
    return;
  }
  // The copy runs at memory speed; the word-wise unmask then works on the (hot) destination.
  const target = output.subarray(outOffset, outOffset + length);
  target.set(source);
  applyMask(target, key, keyOffset);
}

const wordBytes = new Uint8Array(4);
const wordView = new Uint32Array(wordBytes.buffer);

/**
 * XORs `data` in place with the 4-byte `key`, starting at position `keyOffset` of the key (so a payload
 * that arrives in pieces can be unmasked piece by piece). Works on aligned 32-bit words where it can.
 */
export function applyMask(data: Uint8Array, key: Uint8Array, keyOffset: number): void {
  const length = data.length;
  if (nativeUnmask !== undefined && length >= NATIVE_MASK_MIN) {
    if (keyOffset === 0) nativeUnmask(data, key);
    else {
      for (let k = 0; k < 4; k++) rotatedKey[k] = key[(k + keyOffset) & 3];
      nativeUnmask(data, rotatedKey);
    }
    return;
  }
  let i = 0;
  if (length >= 32) {
    const head = (4 - (data.byteOffset & 3)) & 3;
    for (; i < head; i++) data[i] ^= key[(i + keyOffset) & 3];
    const words = (length - i) >>> 2;
    wordBytes[0] = key[(i + keyOffset) & 3];
    wordBytes[1] = key[(i + keyOffset + 1) & 3];
    wordBytes[2] = key[(i + keyOffset + 2) & 3];
    wordBytes[3] = key[(i + keyOffset + 3) & 3];
    const mask = wordView[0];
    const view = new Uint32Array(data.buffer, data.byteOffset + i, words);
    let w = 0;
    // Unrolled by 8: about twice as fast as the plain loop on large payloads (V8 does not unroll it).
    for (const end = words - 7; w < end; w += 8) {
      view[w] ^= mask;
      view[w + 1] ^= mask;
      view[w + 2] ^= mask;
      view[w + 3] ^= mask;
      view[w + 4] ^= mask;
      view[w + 5] ^= mask;
      view[w + 6] ^= mask;
      view[w + 7] ^= mask;
    }
    for (; w < words; w++) view[w] ^= mask;
    i += words << 2;
  }
  for (; i < length; i++) data[i] ^= key[(i + keyOffset) & 3];
}
