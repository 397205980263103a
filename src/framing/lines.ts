/**
 * Newline framing: a byte stream cut into lines, each line one message with its `\n` (and a `\r` before
 * it) removed. A line longer than `maxLength` is discarded up to its newline and reported, never buffered
 * without bound. Lines are views into the received chunks where they fit in one (no copy).
 */
export interface LineSplitterEvents {
  line(line: Buffer): void;
  /** A line over the limit was discarded; `length` is how many bytes it had when discarded, at least. */
  overlong(length: number): void;
}

export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingLength = 0;
  /** True while discarding the rest of an over-long line. */
  private discarding = false;

  constructor(
    private readonly maxLength: number,
    private readonly events: LineSplitterEvents,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl === -1) break;
      if (this.discarding) {
        this.discarding = false;
      } else if (this.pendingLength + nl - start > this.maxLength) {
        this.events.overlong(this.pendingLength + nl - start);
        this.pending = [];
        this.pendingLength = 0;
      } else {
        let line: Buffer;
        if (this.pendingLength === 0) line = chunk.subarray(start, nl);
        else {
          this.pending.push(chunk.subarray(start, nl));
          line = Buffer.concat(this.pending, this.pendingLength + nl - start);
          this.pending = [];
          this.pendingLength = 0;
        }
        if (line.length > 0 && line[line.length - 1] === 13) line = line.subarray(0, line.length - 1);
        this.events.line(line);
      }
      start = nl + 1;
    }
    if (start >= chunk.length || this.discarding) return;
    const rest = chunk.length - start;
    if (this.pendingLength + rest > this.maxLength) {
      this.events.overlong(this.pendingLength + rest);
      this.pending = [];
      this.pendingLength = 0;
      this.discarding = true;
      return;
    }
    this.pending.push(chunk.subarray(start));
    this.pendingLength += rest;
  }

  /** The stream ended: a last line without a newline is still delivered. */
  end(): void {
    if (this.pendingLength > 0 && !this.discarding) {
      const line = Buffer.concat(this.pending, this.pendingLength);
      this.pending = [];
      this.pendingLength = 0;
      this.events.line(line[line.length - 1] === 13 ? line.subarray(0, line.length - 1) : line);
    }
    this.discarding = false;
  }
}
