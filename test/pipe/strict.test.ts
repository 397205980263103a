/**
 * Pipe mode, strict records (`--strict`), against the real CLI: records written into the input FIFO by
 * `cat` and by a separate process making exact write() calls, records read from the output FIFO by `cat`.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import {
  catInto,
  catReader,
  catWriter,
  connect,
  parseRecords,
  pieceWriter,
  record,
  recordsOf,
  showRecords,
  sleep,
  startBridge,
  T,
  until,
  type Bridge,
  type Client,
  type Proc,
  type StrictRecord,
} from '../helpers/pipe-harness.js';

/** A strict-mode bridge with `cat` reading its output, and helpers to wait for records. */
class Strict {
  bridge!: Bridge;
  reader!: Proc;
  clients: Client[] = [];

  async start(args: string[] = []): Promise<this> {
    this.bridge = await startBridge(['--strict', ...args]);
    this.reader = catReader(this.bridge.pipeOut);
    return this;
  }

  records(): StrictRecord[] {
    return recordsOf(this.reader);
  }

  async waitRecord(check: (r: StrictRecord) => boolean, label: string, ms = 5_000): Promise<StrictRecord> {
    let found: StrictRecord | undefined;
    await until(
      () => (found = this.records().find(check)) !== undefined,
      ms,
      label,
      () => `records so far:\n${showRecords(this.records())}\nstderr:\n${this.bridge.stderr()}`,
    );
    return found!;
  }

  /** Connects a client and returns it with the id from its Open record. */
  async client(path = '/', headers: Record<string, string> = {}): Promise<{ c: Client; id: number }> {
    const known = new Set(
      this.records()
        .filter((r) => r.type === T.Open)
        .map((r) => r.id),
    );
    const c = await connect(this.bridge.url(path), undefined, { headers });
    this.clients.push(c);
    const open = await this.waitRecord((r) => r.type === T.Open && !known.has(r.id), 'open record');
    return { c, id: open.id };
  }

  async cleanup(): Promise<void> {
    for (const c of this.clients) c.ws.terminate();
    await this.reader?.kill();
    await this.bridge?.cleanup();
  }
}

describe('pipe mode, strict records', () => {
  const s = new Strict();
  after(() => s.cleanup());

  it('starts', async () => {
    await s.start();
  });

  it('open record: type 0x10, length 46, the client IP NUL-padded; then message records; close record 0x08 of length 0', async () => {
    const { c, id } = await s.client();
    const open = s.records().find((r) => r.type === T.Open && r.id === id)!;
    assert.ok(id > 0);
    assert.equal(open.payload.length, 46);
    const ip = Buffer.alloc(46);
    ip.write('127.0.0.1');
    assert.deepEqual(open.payload, ip);

    c.ws.send('text from client');
    c.ws.send(Buffer.from([0, 1, 2, 0xff]), { binary: true });
    c.ws.send('');
    await until(() => s.records().filter((r) => r.id === id).length >= 4, 5_000, 'message records');
    const mine = s.records().filter((r) => r.id === id);
    assert.deepEqual(
      mine.slice(1, 4).map((r) => [r.type, r.payload.toString('hex')]),
      [
        [T.Text, Buffer.from('text from client').toString('hex')],
        [T.Binary, '000102ff'],
        [T.Text, ''],
      ],
    );
    await c.close();
    const close = await s.waitRecord((r) => r.type === T.Close && r.id === id, 'close record');
    assert.equal(close.payload.length, 0);
    // the raw bytes of the close record are exactly a 12-byte header
    const raw = s.reader.stdout();
    const expected = Buffer.alloc(12);
    expected.writeUInt32BE(id, 0);
    expected.writeUInt32BE(8, 4);
    assert.ok(raw.includes(expected), 'close record bytes: id, 0x08, length 0');
  });

  it('a record addressed to one client reaches only that client; id 0 reaches every client', async () => {
    const { c: a, id: ida } = await s.client();
    const { c: b, id: idb } = await s.client();
    assert.notEqual(ida, idb);
    await catInto(
      s.bridge.pipeIn,
      Buffer.concat([
        record(ida, T.Text, 'only for a'),
        record(idb, T.Binary, Buffer.from([9, 8, 7])),
        record(0, T.Text, 'for everyone'),
      ]),
    );
    await a.waitCount(2);
    await b.waitCount(2);
    await sleep(100);
    assert.deepEqual(a.texts(), ['only for a', 'for everyone']);
    assert.deepEqual(
      b.messages.map((m) => [m.binary, m.data.toString('hex')]),
      [
        [true, '090807'],
        [false, Buffer.from('for everyone').toString('hex')],
      ],
    );
  });

  it('a close record closes that client with its code and reason (and an empty one with 1000)', async () => {
    const { c: a, id: ida } = await s.client();
    const { c: b, id: idb } = await s.client();
    const payload = Buffer.concat([Buffer.from([0x0f, 0xa1]), Buffer.from('bye now')]); // 4001
    await catInto(s.bridge.pipeIn, Buffer.concat([record(ida, T.Close, payload), record(idb, T.Close)]));
    assert.deepEqual(await a.closed, { code: 4001, reason: 'bye now' });
    assert.deepEqual(await b.closed, { code: 1000, reason: '' });
    await s.waitRecord((r) => r.type === T.Close && r.id === ida, 'close record for a');
    await s.waitRecord((r) => r.type === T.Close && r.id === idb, 'close record for b');
  });

  it('a ping record makes the server ping that client with the payload', async () => {
    const { c, id } = await s.client();
    const { c: other } = await s.client();
    await catInto(s.bridge.pipeIn, record(id, T.Ping, 'are you there'));
    await until(() => c.pings.length > 0, 5_000, 'ping');
    assert.equal(c.pings[0].toString(), 'are you there');
    await sleep(100);
    assert.equal(other.pings.length, 0);
  });

  it('a record for an unknown client id is answered with a 0x20 error record carrying that id', async () => {
    await catInto(s.bridge.pipeIn, record(424242, T.Text, 'to nobody'));
    const error = await s.waitRecord((r) => r.type === T.Error && r.id === 424242, 'error record');
    assert.match(error.payload.toString(), /424242/);
  });

  it('an unknown record type is answered with a 0x20 error and the stream stays in step', async () => {
    const { c, id } = await s.client();
    await catInto(
      s.bridge.pipeIn,
      Buffer.concat([
        record(id, 7, 'payload of an unknown type, skipped'),
        record(id, T.Text, 'after the bad one'),
      ]),
    );
    await c.waitCount(1);
    assert.deepEqual(c.texts(), ['after the bad one']);
    const error = await s.waitRecord((r) => r.type === T.Error && r.id === id, 'error record');
    assert.match(error.payload.toString(), /unknown record type 7/);
  });

  it('malformed control records are refused with a 0x20 error and change nothing: 1-byte close, close code 1005, ping over 125 bytes', async () => {
    const { c, id } = await s.client();
    const before = s.records().filter((r) => r.type === T.Error && r.id === id).length;
    await catInto(
      s.bridge.pipeIn,
      Buffer.concat([
        record(id, T.Close, Buffer.from([0x03])),
        record(id, T.Close, Buffer.from([0x03, 0xed])), // 1005 may not be sent
        record(id, T.Ping, Buffer.alloc(126, 0x61)),
        record(id, T.Text, 'still open'),
      ]),
    );
    await c.waitCount(1);
    assert.deepEqual(c.texts(), ['still open']);
    await until(
      () => s.records().filter((r) => r.type === T.Error && r.id === id).length >= before + 3,
      5_000,
      'three error records',
      () => showRecords(s.records()),
    );
    const errors = s
      .records()
      .filter((r) => r.type === T.Error && r.id === id)
      .slice(before);
    assert.match(errors[0].payload.toString(), /close record payload/);
    assert.match(errors[1].payload.toString(), /1005/);
    assert.match(errors[2].payload.toString(), /ping payload/);
    assert.equal(c.isClosed(), false);
    assert.equal(c.pings.length, 0);
  });

  it('ids are never reused across reconnects', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 6; i++) {
      const { c, id } = await s.client();
      ids.push(id);
      await c.close();
      await s.waitRecord((r) => r.type === T.Close && r.id === id, 'close record');
    }
    const every = s
      .records()
      .filter((r) => r.type === T.Open)
      .map((r) => r.id);
    assert.equal(new Set(every).size, every.length, `open ids: ${every.join(',')}`);
    for (let i = 1; i < ids.length; i++) assert.ok(ids[i] > ids[i - 1], `ids grow: ${ids.join(',')}`);
  });

  it('conformance: records written byte by byte, one write() each, reach the right clients', async () => {
    const { c: a, id: ida } = await s.client();
    const { c: b, id: idb } = await s.client();
    const stream = Buffer.concat([
      record(ida, T.Text, 'byte by byte'),
      record(0, T.Text, 'broadcast'),
      record(idb, T.Binary, Buffer.from([1, 2, 3, 4, 5])),
      record(ida, T.Ping, 'p'),
      record(idb, T.Text, ''),
    ]);
    const pieces = [...stream].map((byte) => Buffer.from([byte]));
    await pieceWriter(s.bridge.pipeIn, pieces, 1);
    await a.waitCount(2);
    await b.waitCount(3);
    await until(() => a.pings.length > 0, 5_000, 'ping');
    assert.deepEqual(a.texts(), ['byte by byte', 'broadcast']);
    assert.deepEqual(
      b.messages.map((m) => [m.binary, m.data.toString('hex')]),
      [
        [false, Buffer.from('broadcast').toString('hex')],
        [true, '0102030405'],
        [false, ''],
      ],
    );
    assert.equal(a.pings[0].toString(), 'p');
  });

  it('conformance: headers split across writes (4+5+3 bytes, payload in pieces) with delays, through several writers', async () => {
    const { c, id } = await s.client();
    const refusedBefore = (s.bridge.stderr().match(/refused/g) ?? []).length;
    const one = record(id, T.Text, 'split header, split payload');
    const two = record(0, T.Text, 'second record');
    // writer 1: part of the first header only, then it closes; writer 2 goes on mid-record
    await pieceWriter(s.bridge.pipeIn, [one.subarray(0, 4), one.subarray(4, 9)], 20);
    await pieceWriter(
      s.bridge.pipeIn,
      [one.subarray(9, 12), one.subarray(12, 20), one.subarray(20), two.subarray(0, 7), two.subarray(7)],
      20,
    );
    await c.waitCount(2);
    assert.deepEqual(c.texts(), ['split header, split payload', 'second record']);
    // and nothing was refused on the way
    assert.equal((s.bridge.stderr().match(/refused/g) ?? []).length, refusedBefore);
  });

  it('a 0x20 error record for a record longer than --max-frame-size; its payload is skipped, the stream stays in step', async () => {
    const small = await new Strict().start(['--max-frame-size=64']);
    try {
      const { c, id } = await small.client();
      const w = catWriter(small.bridge.pipeIn);
      await w.write(record(id, T.Text, 'z'.repeat(500)).subarray(0, 200));
      await sleep(50);
      await w.write(
        Buffer.concat([record(id, T.Text, 'z'.repeat(500)).subarray(200), record(id, T.Text, 'fits')]),
      );
      await w.end();
      await c.waitCount(1);
      assert.deepEqual(c.texts(), ['fits']);
      const error = await small.waitRecord((r) => r.type === T.Error && r.id === id, 'error record');
      assert.match(error.payload.toString(), /500/);
    } finally {
      await small.cleanup();
    }
  });
});

describe('pipe mode, --strict-info', () => {
  const s = new Strict();
  after(() => s.cleanup());

  it('a request record (0x11) after the open record holds the request line with path and query, and the headers; close records carry code and reason', async () => {
    await s.start(['--strict-info']);
    const { c, id } = await s.client('/chat/room?user=ann&x=%20y', { 'X-Custom-Thing': 'value 42' });
    const request = await s.waitRecord((r) => r.type === T.Request && r.id === id, 'request record');
    const mine = s.records().filter((r) => r.id === id);
    assert.deepEqual(
      mine.map((r) => r.type),
      [T.Open, T.Request],
      'open first, then request',
    );
    const text = request.payload.toString('latin1');
    const lines = text.split('\r\n');
    assert.equal(lines[0], 'GET /chat/room?user=ann&x=%20y HTTP/1.1');
    assert.ok(
      lines.some((l) => /^x-custom-thing: value 42$/i.test(l)),
      text,
    );
    assert.ok(
      lines.some((l) => new RegExp(`^host: 127\\.0\\.0\\.1:${s.bridge.port}$`, 'i').test(l)),
      text,
    );
    assert.ok(
      lines.some((l) => /^sec-websocket-key: /i.test(l)),
      text,
    );
    c.ws.close(4000, 'done here');
    await c.closed;
    const close = await s.waitRecord((r) => r.type === T.Close && r.id === id, 'close record');
    assert.equal(close.payload.readUInt16BE(0), 4000);
    assert.equal(close.payload.subarray(2).toString(), 'done here');
  });
});

describe('pipe mode, strict: a 10 MB message each way', () => {
  const s = new Strict();
  after(() => s.cleanup());

  it('a 10 MB binary record to one client arrives whole at that client only; 10 MB from a client comes out as one record', async () => {
    await s.start(['--max-frame-size=16777216']);
    const { c: a, id: ida } = await s.client();
    const { c: b } = await s.client();
    const big = randomBytes(10 * 1024 * 1024);
    const digest = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
    // (the broadcast is written only once the big one arrived: written right behind it, it finds the
    // client over --max-client-buffer with the 10 MB still queued, and is dropped for it as for a slow client)
    await catInto(s.bridge.pipeIn, record(ida, T.Binary, big));
    await a.waitCount(1, 20_000);
    await catInto(s.bridge.pipeIn, record(0, T.Text, 'after the big one'));
    await a.waitCount(2, 5_000);
    assert.equal(a.messages[0].data.length, big.length);
    assert.equal(digest(a.messages[0].data), digest(big));
    assert.ok(a.messages[0].binary);
    assert.equal(a.messages[1].data.toString(), 'after the big one');
    await b.waitCount(1);
    await sleep(100);
    assert.deepEqual(b.texts(), ['after the big one'], 'the other client gets only the broadcast');

    const up = randomBytes(10 * 1024 * 1024 + 7);
    a.ws.send(up, { binary: true });
    const rec = await s.waitRecord(
      (r) => r.id === ida && r.type === T.Binary,
      '10 MB record from the client',
      20_000,
    );
    assert.equal(rec.payload.length, up.length);
    assert.equal(digest(rec.payload), digest(up));
    // the output stream is still in step: a small message after it parses
    a.ws.send('small after big');
    const small = await s.waitRecord((r) => r.id === ida && r.type === T.Text, 'text after');
    assert.equal(small.payload.toString(), 'small after big');
    assert.equal(parseRecords(s.reader.stdout()).rest, 0);
  });
});
