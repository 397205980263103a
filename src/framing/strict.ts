/**
 * gwsocket's strict-mode records: a 12-byte header of three big-endian uint32 (client id, type, payload
 * length) followed by the payload. Byte-exact with gwsocket for the types it knows; the extensions use
 * type values it never used, so old applications keep working.
 *
 * ```
 *  0               4               8               12
 *  +---------------+---------------+---------------+----------------------+
 *  | client id     | type          | length        | payload (length B)   |
 *  +---------------+---------------+---------------+----------------------+
 * ```
 */

/** Record types. */
export const StrictType = {
  /** Text message (both directions). */
  Text: 0x01,
  /** Binary message (both directions). */
  Binary: 0x02,
  /** Out: a client closed (payload empty, or code + reason with --strict-info). In: close that client. */
  Close: 0x08,
  /** In: ping that client (payload: ping data, at most 125 bytes). */
  Ping: 0x09,
  /** Out: a client connected; payload its IP address, NUL-padded to 46 bytes. */
  Open: 0x10,
  /** Out (--strict-info): the client's request line and headers, after its Open record. */
  Request: 0x11,
  /** Out: the application's last record was refused; payload a one-line reason. */
  Error: 0x20,
} as const;

export const STRICT_HEADER_SIZE = 12;
/** INET6_ADDRSTRLEN: gwsocket pads the Open record's address to this. */
export const OPEN_ADDRESS_SIZE = 46;

/** Encodes one record (header and payload in one buffer). */
export function encodeRecord(id: number, type: number, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  const record = Buffer.allocUnsafe(STRICT_HEADER_SIZE + payload.length);
  record.writeUInt32BE(id >>> 0, 0);
  record.writeUInt32BE(type, 4);
  record.writeUInt32BE(payload.length, 8);
  record.set(payload, STRICT_HEADER_SIZE);
  return record;
}

/** The Open record: the address as text, NUL-padded (or cut) to 46 bytes. */
export function encodeOpenRecord(id: number, address: string): Buffer {
  const payload = Buffer.alloc(OPEN_ADDRESS_SIZE);
  payload.write(address.slice(0, OPEN_ADDRESS_SIZE), 'latin1');
  return encodeRecord(id, StrictType.Open, payload);
}

export interface StrictReaderEvents {
  record(id: number, type: number, payload: Buffer): void;
  /**
   * A record that cannot be accepted (unknown type, or a length over the limit): its payload is skipped
   * as it arrives (never buffered) and the stream stays in step.
   */
  refused(id: number, type: number, length: number, reason: string): void;
}

const KNOWN_INPUT_TYPES = new Set<number>([
  StrictType.Text,
  StrictType.Binary,
  StrictType.Close,
  StrictType.Ping,
]);

/** Reads records from a byte stream split anywhere (headers and payloads may span writes). */
export class StrictRecordReader {
  private readonly header = Buffer.alloc(STRICT_HEADER_SIZE);
  private headerFill = 0;
  private id = 0;
  private type = 0;
  private remaining = 0;
  private skipping = false;
  private parts: Buffer[] = [];
  private partsLength = 0;
  private inRecord = false;

  constructor(
    private readonly maxPayload: number,
    private readonly events: StrictReaderEvents,
  ) {}

  /** True when a record is partly read (for a reader that must not lose its place). */
  get midRecord(): boolean {
    return this.inRecord || this.headerFill > 0;
  }

  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (!this.inRecord) {
        const take = Math.min(STRICT_HEADER_SIZE - this.headerFill, chunk.length - at);
        chunk.copy(this.header, this.headerFill, at, at + take);
        this.headerFill += take;
        at += take;
        if (this.headerFill < STRICT_HEADER_SIZE) return;
        this.headerFill = 0;
        this.id = this.header.readUInt32BE(0);
        this.type = this.header.readUInt32BE(4);
        this.remaining = this.header.readUInt32BE(8);
        this.inRecord = true;
        this.skipping = false;
        if (!KNOWN_INPUT_TYPES.has(this.type)) {
          this.skipping = true;
          this.events.refused(this.id, this.type, this.remaining, `unknown record type ${this.type}`);
        } else if (this.remaining > this.maxPayload) {
          this.skipping = true;
          this.events.refused(
            this.id,
            this.type,
            this.remaining,
            `record length ${this.remaining} over ${this.maxPayload}`,
          );
        }
      }
      const take = Math.min(this.remaining, chunk.length - at);
      if (!this.skipping && take > 0) {
        this.parts.push(chunk.subarray(at, at + take));
        this.partsLength += take;
      }
      at += take;
      this.remaining -= take;
      if (this.remaining === 0) this.finish();
    }
    if (this.inRecord && this.remaining === 0) this.finish();
  }

  private finish(): void {
    this.inRecord = false;
    if (this.skipping) {
      this.skipping = false;
      return;
    }
    const payload =
      this.parts.length === 1
        ? this.parts[0]
        : this.parts.length === 0
          ? Buffer.alloc(0)
          : Buffer.concat(this.parts, this.partsLength);
    this.parts = [];
    this.partsLength = 0;
    this.events.record(this.id, this.type, payload);
  }
}
