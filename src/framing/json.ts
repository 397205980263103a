/**
 * websocksy's `json` framing: the stream is cut after each complete JSON value (object, array, string,
 * number, true/false/null); whitespace between values is not sent. A streaming scanner tracks depth
 * (with the expected closing bracket), strings and their escapes, so a value may be split anywhere
 * across reads. A complete value goes out as text (binary if it is not UTF-8, or a malformed number).
 *
 * Not a full validator: inside a container only brackets, strings and the bytes of JSON scalars are
 * checked. Bytes that cannot be JSON (a stray character, a mismatched bracket) are collected up to the
 * next whitespace or value start and sent as one binary message, so the stream resynchronises.
 */
import { isUtf8 } from 'node:buffer';
import { DEFAULT_MAX_FRAME, Pending, tooLarge, type Emit, type Framer } from './framer.js';

const enum Kind {
  None,
  Nested, // object, array, or a top-level string
  Number,
  Literal,
  Garbage,
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const NUMBER_RE = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;
const LITERALS: Record<number, Buffer> = {
  0x74: Buffer.from('true'),
  0x66: Buffer.from('false'),
  0x6e: Buffer.from('null'),
};

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}
function isNumberByte(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2b || c === 0x2e || c === 0x45 || c === 0x65;
}
function startsValue(c: number): boolean {
  return c === 0x7b || c === 0x5b || c === QUOTE || c === 0x2d || (c >= 0x30 && c <= 0x39) || c in LITERALS;
}
/** Bytes allowed between the brackets and strings of a container: scalars, `,` and `:`. */
function isInnerByte(c: number): boolean {
  return isSpace(c) || isNumberByte(c) || c === 0x2c || c === 0x3a || (c >= 0x61 && c <= 0x7a);
}

export class JsonFramer implements Framer {
  private readonly pending = new Pending();
  private kind = Kind.None;
  /** Closing brackets expected, innermost last. */
  private stack: number[] = [];
  private inString = false;
  private escaped = false;
  private literal: Buffer | undefined;
  private matched = 0;

  constructor(private readonly maxSize = DEFAULT_MAX_FRAME) {}

  get buffered(): number {
    return this.pending.length;
  }

  push(chunk: Buffer, emit: Emit): void {
    let start = 0;
    const n = chunk.length;
    for (let i = 0; i < n; i++) {
      const c = chunk[i];
      switch (this.kind) {
        case Kind.None:
          if (isSpace(c)) continue;
          start = i;
          if (c === 0x7b || c === 0x5b) {
            this.kind = Kind.Nested;
            this.stack.push(c + 2); // { → }, [ → ]
          } else if (c === QUOTE) {
            this.kind = Kind.Nested;
            this.inString = true;
          } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) this.kind = Kind.Number;
          else if (c in LITERALS) {
            this.kind = Kind.Literal;
            this.literal = LITERALS[c];
            this.matched = 1;
          } else this.kind = Kind.Garbage;
          continue;
        case Kind.Nested:
          if (this.inString) {
            if (this.escaped) this.escaped = false;
            else if (c === BACKSLASH) this.escaped = true;
            else if (c === QUOTE) {
              this.inString = false;
              if (this.stack.length === 0) this.complete(chunk, start, i + 1, emit, false);
            }
          } else if (c === QUOTE) this.inString = true;
          else if (c === 0x7b || c === 0x5b) this.stack.push(c + 2);
          else if (c === 0x7d || c === 0x5d) {
            if (this.stack.pop() !== c) {
              this.toGarbage();
              i--;
            } else if (this.stack.length === 0) this.complete(chunk, start, i + 1, emit, false);
          } else if (!isInnerByte(c)) {
            this.toGarbage();
            i--;
          }
          continue;
        case Kind.Number:
          if (isNumberByte(c)) continue;
          this.complete(chunk, start, i, emit, true);
          i--; // this byte starts whatever follows
          continue;
        case Kind.Literal:
          if (c === this.literal![this.matched]) {
            if (++this.matched === this.literal!.length) this.complete(chunk, start, i + 1, emit, false);
          } else {
            this.toGarbage();
            i--;
          }
          continue;
        case Kind.Garbage:
          if (isSpace(c) || startsValue(c)) {
            this.complete(chunk, start, i, emit, false, true);
            i--;
          }
          continue;
      }
    }
    if (this.kind !== Kind.None) {
      if (this.pending.length + n - start > this.maxSize) throw this.overflow();
      this.pending.add(chunk.subarray(start));
    }
  }

  private toGarbage(): void {
    this.kind = Kind.Garbage;
    this.stack = [];
    this.inString = false;
    this.escaped = false;
  }

  private overflow(): Error {
    this.pending.clear();
    this.kind = Kind.None;
    this.toGarbage();
    this.kind = Kind.None;
    return tooLarge('json', this.maxSize);
  }

  private complete(
    chunk: Buffer,
    start: number,
    end: number,
    emit: Emit,
    number: boolean,
    garbage = false,
  ): void {
    if (this.pending.length + end - start > this.maxSize) throw this.overflow();
    const value = this.pending.take(chunk.subarray(start, end));
    this.kind = Kind.None;
    const binary = garbage || !isUtf8(value) || (number && !NUMBER_RE.test(value.toString('latin1')));
    emit(value, binary);
  }

  /** The stream ended: a number is complete; anything else unfinished goes out as binary. */
  end(emit: Emit): void {
    if (this.kind === Kind.None) return;
    const number = this.kind === Kind.Number;
    const value = this.pending.take();
    this.toGarbage();
    this.kind = Kind.None;
    emit(value, !number || !NUMBER_RE.test(value.toString('latin1')));
  }
}
