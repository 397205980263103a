/**
 * The hub bridge (gwsocket's model): one application, many clients, joined by a pair of byte streams
 * (FIFOs or stdin/stdout).
 *
 * - Standard mode: what the application writes is cut into messages (lines by default, or gwsocket's
 *   read-sized chunks) and broadcast as text to every client; what clients send goes to the output,
 *   one message per line (or raw, with chunk framing).
 * - Strict mode: 12-byte id/type/length records both ways (see framing/strict.ts), so the application
 *   can address one client and sees who opens and closes.
 *
 * Nothing is dropped silently: each loss has a bounded buffer in front of it, a counter and a log line.
 */
import { isUtf8 } from 'node:buffer';
import type { Readable } from 'node:stream';
import { CloseCode, InvalidStateError } from '../../protocol/errors.js';
import { isValidCloseCode } from '../../protocol/close.js';
import type { Connection, ConnectionHandlers } from '../../server/connection.js';
import { prepareFrames, type ClientGroup } from '../../server/hub.js';
import { GWSOCKET_CHUNK, splitChunks } from '../../framing/chunks.js';
import { LineSplitter } from '../../framing/lines.js';
import {
  encodeOpenRecord,
  encodeRecord,
  StrictRecordReader,
  StrictType,
  STRICT_HEADER_SIZE,
} from '../../framing/strict.js';
import type { FifoReader, OutputSink } from './fifo.js';

/** Pipe hub settings (each has a CLI flag; defaults in `PIPE_DEFAULTS`). */
export interface PipeHubOptions {
  /** Strict record mode instead of standard mode. */
  strict: boolean;
  /** Standard mode framing: `lines` (each line a message) or `chunks` (gwsocket: each read, ≤ 4095 bytes). */
  framing: 'lines' | 'chunks';
  /** Longest line or strict record payload accepted from the application, bytes. */
  maxMessageSize: number;
  /** Strict mode: add a Request record after Open, and a code and reason to Close records. */
  strictInfo: boolean;
  /** Broadcasts kept while no client is connected, delivered to the next client that connects. */
  backlog: number;
  /** A client with more than this many bytes queued is slow: broadcasts skip it, or it is closed. */
  maxClientBuffer: number;
  /** What happens to a slow client: `drop` the messages it cannot take, or `close` it (1008). */
  slowClient: 'drop' | 'close';
}

export const PIPE_DEFAULTS = {
  framing: 'lines',
  backlog: 100,
  maxClientBuffer: 2 * 1024 * 1024,
  slowClient: 'drop',
  outputQueue: 1024 * 1024,
} as const;

/** Logging used by the hub. */
export interface HubLog {
  info(message: string): void;
  error(message: string): void;
  debug(message: string): void;
}

/** What the hub counted; every loss is here. */
export interface PipeHubStats {
  /** Messages from the application to clients (broadcast or addressed). */
  fromApplication: number;
  /** Messages from clients to the application. */
  fromClients: number;
  /** Broadcasts dropped because no client was connected and the backlog was full. */
  droppedNoClient: number;
  /** Messages not sent to a slow client (per receiver). */
  droppedSlowClient: number;
  /** Clients closed for being slow. */
  closedSlowClients: number;
  /** Lines from the application over the length limit, discarded. */
  overlongLines: number;
  /** Text messages from the application with invalid UTF-8, sent with U+FFFD in place of the bad bytes. */
  repairedText: number;
  /** Strict records refused (answered with an Error record). */
  refusedRecords: number;
  /** Client messages dropped because no reader was on the output and its queue was full (or it failed). */
  droppedNoReader: number;
  /** Bytes in flight to an output reader that went away. */
  lostInFlight: number;
}

const NEWLINE = Buffer.from('\n');
const EMPTY = Buffer.alloc(0);

function plainAddress(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

export class PipeHub<T = unknown> {
  private readonly counts: Omit<PipeHubStats, 'droppedNoReader' | 'lostInFlight'> = {
    fromApplication: 0,
    fromClients: 0,
    droppedNoClient: 0,
    droppedSlowClient: 0,
    closedSlowClients: 0,
    overlongLines: 0,
    repairedText: 0,
    refusedRecords: 0,
  };

  /** Everything counted so far, losses included. */
  get stats(): PipeHubStats {
    return {
      ...this.counts,
      droppedNoReader: this.output.losses.droppedRecords,
      lostInFlight: this.output.losses.lostInFlight,
    };
  }
  private clients: ClientGroup<T> | undefined;
  private readonly backlog: { data: Buffer; binary: boolean }[] = [];
  private readonly slow = new Map<number, number>();
  private outputBlocked = false;
  private readonly lines: LineSplitter | undefined;
  private readonly records: StrictRecordReader | undefined;
  /** Broadcast messages of the current input chunk, sent together. */
  private pending: Buffer[] = [];
  private pendingBinary = false;
  private pendingSkips = 0;

  constructor(
    private readonly input: Readable | FifoReader,
    private readonly output: OutputSink,
    private readonly options: PipeHubOptions,
    private readonly log: HubLog,
  ) {
    if (options.strict) {
      this.records = new StrictRecordReader(options.maxMessageSize, {
        record: (id, type, payload) => this.onRecord(id, type, payload),
        refused: (id, _type, _length, reason) => this.refuse(id, reason),
      });
    } else if (options.framing === 'lines') {
      this.lines = new LineSplitter(options.maxMessageSize, {
        line: (line) => this.queueBroadcast(this.text(line), false),
        overlong: (length) => {
          this.counts.overlongLines++;
          this.log.error(
            `input line of ${length}+ bytes is over the limit of ${options.maxMessageSize}: discarded`,
          );
        },
      });
    }
  }

  /** Callbacks to give the server (`createServer({ ...hub.handlers() })`). */
  handlers(): ConnectionHandlers<T> {
    return {
      open: (conn) => this.onOpen(conn),
      message: (conn, data, isBinary) => this.onClientMessage(conn, data, isBinary),
      close: (conn, code, reason) => this.onClose(conn, code, reason),
    };
  }

  /** Starts moving data to and from these clients (the server, or a route's group). */
  attach(clients: ClientGroup<T>): void {
    this.clients = clients;
    this.input.on('data', (chunk: Buffer) => this.onInput(chunk));
    this.input.on('writer-closed', () => {
      // The last writer closed: its last line ends here even without a newline.
      this.lines?.end();
      this.flush();
    });
    this.input.on('end', () => {
      this.lines?.end();
      this.flush();
      this.log.info('input closed: no more data from the application (clients stay connected)');
    });
    this.input.on('error', (error: Error) => this.log.error(`input failed: ${error.message}`));
    this.output.on('drain', () => this.unblock());
    this.output.on('lost', (message: string) => this.note(message));
    this.output.on('reader', () => this.log.info('output pipe: reader attached'));
  }

  // Application → clients

  private onInput(chunk: Buffer): void {
    if (this.records) this.records.push(chunk);
    else if (this.lines) this.lines.push(chunk);
    else
      for (const piece of splitChunks(chunk, Math.min(GWSOCKET_CHUNK, this.options.maxMessageSize)))
        this.queueBroadcast(this.text(piece), false);
    this.flush();
  }

  /** Text must be UTF-8 on the wire: invalid bytes become U+FFFD (counted) rather than failing every client. */
  private text(data: Buffer): Buffer {
    if (isUtf8(data)) return data;
    this.counts.repairedText++;
    this.log.debug('input text with invalid UTF-8: bad bytes replaced with U+FFFD');
    return Buffer.from(data.toString('utf8'));
  }

  private queueBroadcast(data: Buffer, binary: boolean): void {
    if (this.pending.length > 0 && binary !== this.pendingBinary) this.flush();
    this.pendingBinary = binary;
    this.pending.push(data);
  }

  /** Sends the queued broadcasts, encoded once, in one write per client. */
  private flush(): void {
    const messages = this.pending;
    if (messages.length === 0) return;
    this.pending = [];
    this.counts.fromApplication += messages.length;
    const clients = this.clients!;
    this.pendingSkips = messages.length;
    const sent = clients.broadcastPrepared(prepareFrames(messages, this.pendingBinary), {
      slowerThan: this.options.maxClientBuffer,
      onSlow: this.onSlow,
    });
    if (sent === 0 && !this.hasOpenClient()) {
      for (const data of messages) this.keep(data, this.pendingBinary);
      return;
    }
    if (this.slow.size > 0) this.checkRecovered();
  }

  private hasOpenClient(): boolean {
    for (const conn of this.clients!) if (conn.isOpen) return true;
    return false;
  }

  private keep(data: Buffer, binary: boolean): void {
    if (this.options.backlog === 0) {
      this.counts.droppedNoClient++;
      this.note('no client connected: message dropped (backlog is 0)');
      return;
    }
    if (this.backlog.length >= this.options.backlog) {
      this.backlog.shift();
      this.counts.droppedNoClient++;
      this.note(`no client connected and backlog full (${this.options.backlog}): oldest message dropped`);
    }
    // The input chunk may be reused by the caller's stream: keep a copy.
    this.backlog.push({ data: Buffer.from(data), binary });
  }

  private readonly onSlow = (conn: Connection<T>): void => {
    const dropped = (this.slow.get(conn.id) ?? 0) + this.pendingSkips;
    if (!this.slow.has(conn.id)) {
      if (this.options.slowClient === 'close') {
        this.counts.closedSlowClients++;
        this.log.error(`client #${conn.id} too slow (${conn.bufferedAmount} bytes queued): closing it`);
        conn.close(CloseCode.PolicyViolation, 'too slow: send buffer full');
        return;
      }
      this.log.error(
        `client #${conn.id} too slow (${conn.bufferedAmount} bytes queued): dropping its messages until it catches up`,
      );
    }
    this.counts.droppedSlowClient += this.pendingSkips;
    this.slow.set(conn.id, dropped);
  };

  private checkRecovered(): void {
    for (const [id, dropped] of this.slow) {
      const conn = this.clients!.get(id);
      if (!conn) this.slow.delete(id);
      else if (conn.bufferedAmount <= this.options.maxClientBuffer) {
        this.slow.delete(id);
        this.log.info(`client #${id} caught up after ${dropped} dropped message${dropped === 1 ? '' : 's'}`);
      }
    }
  }

  private onRecord(id: number, type: number, payload: Buffer): void {
    if (type === StrictType.Text || type === StrictType.Binary) {
      const binary = type === StrictType.Binary;
      const data = binary ? payload : this.text(payload);
      if (id === 0) {
        this.queueBroadcast(data, binary);
        return;
      }
      this.flush();
      const conn = this.openClient(id);
      if (!conn) return;
      this.counts.fromApplication++;
      if (conn.bufferedAmount > this.options.maxClientBuffer) {
        this.pendingSkips = 1;
        this.onSlow(conn);
      } else conn.send(data, binary);
      return;
    }
    this.flush();
    if (type === StrictType.Close) {
      let code: number = CloseCode.Normal;
      let reason = '';
      if (payload.length === 1)
        return this.refuse(id, 'close record payload must be empty or a 2-byte code and a reason');
      if (payload.length >= 2) {
        code = payload.readUInt16BE(0);
        const reasonBytes = payload.subarray(2);
        if (!isValidCloseCode(code)) return this.refuse(id, `close code ${code} may not be sent`);
        if (reasonBytes.length > 123 || !isUtf8(reasonBytes))
          return this.refuse(id, 'close reason must be UTF-8 of at most 123 bytes');
        reason = reasonBytes.toString('utf8');
      }
      for (const conn of this.targets(id)) conn.close(code, reason);
    } else if (type === StrictType.Ping) {
      if (payload.length > 125) return this.refuse(id, 'ping payload over 125 bytes');
      for (const conn of this.targets(id)) {
        try {
          conn.ping(payload);
        } catch (error) {
          if (!(error instanceof InvalidStateError)) throw error;
        }
      }
    }
  }

  /** Id 0 means every open client; any other id one client (refused if it is not open). */
  private targets(id: number): Connection<T>[] {
    if (id === 0) return [...this.clients!].filter((c) => c.isOpen);
    const conn = this.openClient(id);
    return conn ? [conn] : [];
  }

  private openClient(id: number): Connection<T> | undefined {
    const conn = this.clients!.get(id);
    if (conn && conn.isOpen) return conn;
    this.refuse(id, conn ? `client ${id} is closing` : `no client with id ${id}`);
    return undefined;
  }

  /** Tells the application (strict mode) that its record was not carried out, instead of a silent drop. */
  private refuse(id: number, reason: string): void {
    this.counts.refusedRecords++;
    this.log.info(`record for client ${id} refused: ${reason}`);
    this.writeOut(encodeRecord(id, StrictType.Error, Buffer.from(reason)));
  }

  // Clients → application

  private onOpen(conn: Connection<T>): void {
    if (this.outputBlocked) conn.pause();
    if (this.options.strict) {
      this.writeOut(encodeOpenRecord(conn.id, plainAddress(conn.remoteAddress)));
      if (this.options.strictInfo) {
        let head = `GET ${conn.request.url} HTTP/1.1\r\n`;
        for (const [name, value] of Object.entries(conn.headers))
          if (value !== undefined) head += `${name}: ${Array.isArray(value) ? value.join(', ') : value}\r\n`;
        this.writeOut(encodeRecord(conn.id, StrictType.Request, Buffer.from(head, 'latin1')));
      }
    }
    if (this.backlog.length > 0) {
      const kept = this.backlog.splice(0);
      for (const { data, binary } of kept) conn.send(data, binary);
      this.log.info(
        `delivered ${kept.length} message${kept.length === 1 ? '' : 's'} kept while no client was connected to #${conn.id}`,
      );
    }
  }

  private onClientMessage(conn: Connection<T>, data: Buffer, isBinary: boolean): void {
    this.counts.fromClients++;
    if (this.options.strict) {
      const head = Buffer.allocUnsafe(STRICT_HEADER_SIZE);
      head.writeUInt32BE(conn.id, 0);
      head.writeUInt32BE(isBinary ? StrictType.Binary : StrictType.Text, 4);
      head.writeUInt32BE(data.length, 8);
      this.writeOut(head, data);
    } else if (this.options.framing === 'lines') this.writeOut(data, NEWLINE);
    else this.writeOut(data);
  }

  private onClose(conn: Connection<T>, code: number, reason: string): void {
    this.slow.delete(conn.id);
    if (!this.options.strict) return;
    let payload = EMPTY;
    if (this.options.strictInfo) {
      payload = Buffer.allocUnsafe(2 + Buffer.byteLength(reason));
      payload.writeUInt16BE(code, 0);
      payload.write(reason, 2);
    }
    this.writeOut(encodeRecord(conn.id, StrictType.Close, payload));
  }

  private writeOut(head: Buffer, tail?: Buffer): void {
    if (!this.output.write(head, tail) && !this.outputBlocked) {
      // The application reads slower than clients send: stop reading clients (TCP slows them) until drain.
      this.outputBlocked = true;
      this.log.debug('output is full: pausing clients');
      for (const conn of this.clients ?? []) conn.pause();
    }
  }

  private unblock(): void {
    if (!this.outputBlocked) return;
    this.outputBlocked = false;
    this.log.debug('output drained: resuming clients');
    for (const conn of this.clients ?? []) conn.resume();
  }

  private readonly notes = new Map<string, { last: number; suppressed: number }>();
  /** Logs a loss at most once a second per kind of message, with how many were not logged. */
  private note(message: string): void {
    const now = Date.now();
    const seen = this.notes.get(message);
    if (seen && now - seen.last < 1000) {
      seen.suppressed++;
      return;
    }
    const suppressed = seen?.suppressed ?? 0;
    this.log.error(suppressed > 0 ? `${message} (and ${suppressed} more since the last report)` : message);
    this.notes.set(message, { last: now, suppressed: 0 });
  }
}
