/**
 * Data between a client and real programs: text mode (a line per message both ways, CR stripped, the last
 * line without a newline still delivered, invalid UTF-8 made valid), binary mode (bytes unchanged), the
 * other message type ignored, stderr logged or forwarded as JSON (--passstderr), --maxframesize, --pingms.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  connectRecorded,
  fixture,
  startProgramServer,
  until,
  type ProgramServer,
} from '../helpers/program-harness.js';

describe('text mode with cat', () => {
  let server: ProgramServer;
  before(async () => {
    server = await startProgramServer(['--port=0', '--address=127.0.0.1', 'cat']);
  });
  after(() => server.stop());

  it('each message becomes a line and each line a message, in order', async () => {
    const client = await connectRecorded(server.url('/'));
    const sent = Array.from({ length: 1000 }, (_, i) => `message ${i} ✓`);
    for (const text of sent) client.ws.send(text);
    await client.waitMessages(sent.length);
    assert.deepEqual(client.texts(), sent);
    assert.ok(client.messages.every((m) => !m.isBinary));
    client.ws.close(1000);
    assert.equal((await client.closed).code, 1000);
  });

  it('a message with newlines becomes several lines; a trailing CR is removed', async () => {
    const client = await connectRecorded(server.url('/'));
    client.ws.send('one\ntwo\nthree');
    client.ws.send('dos line\r');
    client.ws.send('');
    await client.waitMessages(5);
    assert.deepEqual(client.texts(), ['one', 'two', 'three', 'dos line', '']);
    client.ws.close(1000);
    await client.closed;
  });

  it('a 512 KiB line goes through whole', async () => {
    const client = await connectRecorded(server.url('/'));
    const big = 'x'.repeat(512 * 1024);
    client.ws.send(big);
    await client.waitMessages(1);
    assert.equal(client.texts()[0], big);
    client.ws.close(1000);
    await client.closed;
  });

  it('binary messages are ignored in text mode (websocketd 0.5.0)', async () => {
    const client = await connectRecorded(server.url('/'));
    client.ws.send(Buffer.from('binary\n'), { binary: true });
    client.ws.send('text');
    await client.waitMessages(1);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(client.texts(), ['text']);
    client.ws.close(1000);
    await client.closed;
  });
});

describe('text mode output', () => {
  it('a last line without a newline is delivered before Close 1000 (websocketd drops it)', async () => {
    const server = await startProgramServer(['--port=0', '--address=127.0.0.1', fixture('no-newline.sh')]);
    try {
      const client = await connectRecorded(server.url('/'));
      assert.deepEqual(await client.closed, { code: 1000, reason: '' });
      assert.deepEqual(client.texts(), ['first', 'last']);
    } finally {
      await server.stop();
    }
  });

  it('COMMAND ARGS reach the program', async () => {
    const server = await startProgramServer(['--port=0', '--address=127.0.0.1', fixture('count.sh'), '5']);
    try {
      const client = await connectRecorded(server.url('/'));
      assert.equal((await client.closed).code, 1000);
      assert.deepEqual(client.texts(), ['1', '2', '3', '4', '5']);
    } finally {
      await server.stop();
    }
  });

  it('-- separates flags from a command', async () => {
    const server = await startProgramServer([
      '--port=0',
      '--address=127.0.0.1',
      '--',
      fixture('count.sh'),
      '2',
    ]);
    try {
      const client = await connectRecorded(server.url('/'));
      await client.closed;
      assert.deepEqual(client.texts(), ['1', '2']);
    } finally {
      await server.stop();
    }
  });

  it('invalid UTF-8 output becomes U+FFFD: the text frame stays valid', async () => {
    const server = await startProgramServer(['--port=0', '--address=127.0.0.1', fixture('bytes.sh')]);
    try {
      const client = await connectRecorded(server.url('/'));
      await client.waitMessages(1);
      assert.equal(client.texts()[0], 'a\ufffdb');
      client.ws.send('still open');
      await client.waitMessages(2);
      assert.equal(client.texts()[1], 'still open');
      client.ws.close(1000);
      assert.equal((await client.closed).code, 1000);
    } finally {
      await server.stop();
    }
  });
});

describe('binary mode (--binary)', () => {
  let server: ProgramServer;
  before(async () => {
    server = await startProgramServer(['--port=0', '--address=127.0.0.1', '--binary', 'cat']);
  });
  after(() => server.stop());

  it('bytes go through unchanged, each read one binary message', async () => {
    const client = await connectRecorded(server.url('/'));
    const chunks = Array.from({ length: 64 }, (_, i) => randomBytes(1000 + i * 997));
    for (const chunk of chunks) client.ws.send(chunk);
    const total = chunks.reduce((n, c) => n + c.length, 0);
    await until(
      () => client.messages.reduce((n, m) => n + m.data.length, 0) >= total,
      10_000,
      'all bytes back',
    );
    assert.ok(client.messages.every((m) => m.isBinary));
    assert.deepEqual(Buffer.concat(client.messages.map((m) => m.data)), Buffer.concat(chunks));
    client.ws.close(1000);
    await client.closed;
  });

  it('no newline is added, and text messages are ignored', async () => {
    const client = await connectRecorded(server.url('/'));
    client.ws.send('ignored text');
    client.ws.send(Buffer.from([0, 1, 2, 0xff]));
    await client.waitMessages(1);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(Buffer.concat(client.messages.map((m) => m.data)), Buffer.from([0, 1, 2, 0xff]));
    client.ws.close(1000);
    await client.closed;
  });
});

describe('stderr', () => {
  it('is logged per connection, not sent, by default', async () => {
    const server = await startProgramServer(['--port=0', '--address=127.0.0.1', fixture('stderr.sh')]);
    try {
      const client = await connectRecorded(server.url('/err'));
      await client.waitMessages(2);
      await server.waitForLog(/127\.0\.0\.1 \/err pid \d+ stderr: err 2/);
      assert.match(server.stderr(), /error 127\.0\.0\.1 \/err pid \d+ stderr: err 1/);
      assert.deepEqual(client.texts(), ['out 1', 'out 2']);
      client.ws.close(1000);
      await client.closed;
    } finally {
      await server.stop();
    }
  });

  it('--passstderr sends both streams as JSON messages', async () => {
    const server = await startProgramServer([
      '--port=0',
      '--address=127.0.0.1',
      '--passstderr',
      fixture('stderr.sh'),
    ]);
    try {
      const client = await connectRecorded(server.url('/'));
      await client.waitMessages(4);
      const records = client.texts().map((t) => JSON.parse(t) as { stream: string; data: string });
      assert.deepEqual(
        records.filter((r) => r.stream === 'stdout').map((r) => r.data),
        ['out 1', 'out 2'],
      );
      assert.deepEqual(
        records.filter((r) => r.stream === 'stderr').map((r) => r.data),
        ['err 1', 'err 2'],
      );
      assert.deepEqual(Object.keys(records[0]), ['stream', 'data']);
      client.ws.close(1000);
      await client.closed;
    } finally {
      await server.stop();
    }
  });
});

describe('protocol options', () => {
  it('--maxframesize: a larger message closes the connection with 1009', async () => {
    const server = await startProgramServer(['--port=0', '--address=127.0.0.1', '--maxframesize=10', 'cat']);
    try {
      const client = await connectRecorded(server.url('/'));
      client.ws.send('0123456789');
      await client.waitMessages(1);
      client.ws.send('0123456789A');
      assert.equal((await client.closed).code, 1009);
      assert.deepEqual(client.texts(), ['0123456789']);
    } finally {
      await server.stop();
    }
  });

  it('--pingms: the server pings', async () => {
    const server = await startProgramServer(['--port=0', '--address=127.0.0.1', '--pingms=100', 'cat']);
    try {
      const client = await connectRecorded(server.url('/'));
      let pings = 0;
      client.ws.on('ping', () => pings++);
      await until(() => pings > 0, 3000, 'a ping');
      client.ws.close(1000);
      await client.closed;
    } finally {
      await server.stop();
    }
  });
});
