/**
 * The life of a program: Close codes from its exit status, the kill ladder (its order and approximate
 * timing, --closems, grandchildren), backpressure both ways with programs that flood stdout or never read
 * stdin, a program that cannot start (500 before any 101), server shutdown, and no zombies and no leaked
 * descriptors after 1,000 connect/disconnect cycles.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import {
  bytesWritten,
  childrenOf,
  connectRecorded,
  fdCount,
  fixture,
  isRunning,
  NODE,
  rawUpgrade,
  rssOf,
  sleep,
  startProgramServer,
  until,
  zombiesOf,
  type ProgramServer,
} from '../helpers/program-harness.js';

describe('Close codes from the exit status', () => {
  it('exit 0 → 1000 after the output', async () => {
    const server = await startProgramServer(['--port=0', '--address=127.0.0.1', fixture('count.sh')]);
    try {
      const client = await connectRecorded(server.url('/'));
      assert.deepEqual(await client.closed, { code: 1000, reason: '' });
      assert.deepEqual(client.texts(), ['1', '2', '3']);
    } finally {
      await server.stop();
    }
  });

  it('exit 3 → 1011 "exit status 3", after its last line', async () => {
    const server = await startProgramServer([
      '--port=0',
      '--address=127.0.0.1',
      fixture('exit-status.sh'),
      '3',
    ]);
    try {
      const client = await connectRecorded(server.url('/'));
      assert.deepEqual(await client.closed, { code: 1011, reason: 'exit status 3' });
      assert.deepEqual(client.texts(), ['bye']);
    } finally {
      await server.stop();
    }
  });

  it('killed by a signal → 1011 "killed by SIGKILL"', async () => {
    const server = await startProgramServer(['--port=0', '--address=127.0.0.1', fixture('self-kill.sh')]);
    try {
      const client = await connectRecorded(server.url('/'));
      assert.deepEqual(await client.closed, { code: 1011, reason: 'killed by SIGKILL' });
      assert.deepEqual(client.texts(), ['about to die']);
    } finally {
      await server.stop();
    }
  });

  it('a program that closes stdout but runs on is stopped on the ladder, then the client is told', async () => {
    const server = await startProgramServer([
      '--port=0',
      '--address=127.0.0.1',
      '/bin/sh',
      '-c',
      'echo hi; exec >&-; exec sleep 300',
    ]);
    try {
      const client = await connectRecorded(server.url('/'));
      assert.deepEqual(await client.closed, { code: 1011, reason: 'killed by SIGINT' });
      assert.deepEqual(client.texts(), ['hi']);
    } finally {
      await server.stop();
    }
  });
});

/** Starts signals.mjs behind a fresh server, disconnects, and returns the stamps it wrote and when it died. */
async function ladder(extraArgs: string[], disconnect: (ws: WebSocket) => void) {
  const dir = mkdtempSync(join(tmpdir(), 'wsb-ladder-'));
  const logFile = join(dir, 'signals.log');
  const server = await startProgramServer([
    '--port=0',
    '--address=127.0.0.1',
    ...extraArgs,
    NODE,
    fixture('signals.mjs'),
    logFile,
  ]);
  try {
    const client = await connectRecorded(server.url('/'));
    await client.waitMessages(1);
    const pid = Number(/^ready (\d+)$/.exec(client.texts()[0])![1]);
    const closedAt = Date.now();
    disconnect(client.ws);
    await until(() => !isRunning(pid), 10_000, 'the program to be killed');
    const diedAt = Date.now();
    const stamps = new Map<string, number>();
    for (const line of readFileSync(logFile, 'utf8').trim().split('\n')) {
      const [what, when] = line.split(' ');
      stamps.set(what, Number(when));
    }
    await until(
      () => zombiesOf(server.pid).length === 0 && childrenOf(server.pid).length === 0,
      3000,
      'no children left',
    );
    return { stamps, closedAt, diedAt, server };
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('the kill ladder (a program that ignores SIGINT and SIGTERM)', () => {
  it('client gone: stdin closed, SIGINT ~100 ms later, SIGTERM ~250 ms after, SIGKILL ~500 ms after', async () => {
    const { stamps, closedAt, diedAt } = await ladder([], (ws) => ws.close(1000));
    const eof = stamps.get('EOF')!;
    const int = stamps.get('SIGINT')!;
    const term = stamps.get('SIGTERM')!;
    assert.ok(eof && int && term, `all three seen: ${JSON.stringify([...stamps])}`);
    assert.ok(eof >= closedAt - 5 && eof < closedAt + 500, `stdin closed at once (${eof - closedAt} ms)`);
    // Generous bounds: order, and roughly websocketd's 100/250/500 ms.
    assert.ok(int - eof >= 80 && int - eof < 1000, `SIGINT ${int - eof} ms after EOF`);
    assert.ok(term - int >= 220 && term - int < 1200, `SIGTERM ${term - int} ms after SIGINT`);
    assert.ok(diedAt - term >= 400 && diedAt - term < 2000, `SIGKILL ~${diedAt - term} ms after SIGTERM`);
  });

  it('--closems is added to each step; a dropped TCP connection starts the ladder too', async () => {
    const { stamps, diedAt } = await ladder(['--closems=300'], (ws) => ws.terminate());
    const eof = stamps.get('EOF')!;
    const int = stamps.get('SIGINT')!;
    const term = stamps.get('SIGTERM')!;
    assert.ok(int - eof >= 370 && int - eof < 1500, `SIGINT ${int - eof} ms after EOF`);
    assert.ok(term - int >= 520 && term - int < 1700, `SIGTERM ${term - int} ms after SIGINT`);
    assert.ok(diedAt - term >= 700 && diedAt - term < 2500, `SIGKILL ~${diedAt - term} ms after SIGTERM`);
  });

  it("signals reach the program's whole process group: a grandchild dies too", async () => {
    const server = await startProgramServer(['--port=0', '--address=127.0.0.1', fixture('grandchild.sh')]);
    try {
      const client = await connectRecorded(server.url('/'));
      await client.waitMessages(1);
      const grandchild = Number(client.texts()[0]);
      assert.ok(isRunning(grandchild), 'the grandchild runs');
      client.ws.send('echo');
      await client.waitMessages(2);
      client.ws.close(1000);
      await client.closed;
      // The background sleep ignores SIGINT (as background jobs of sh do); SIGTERM ends it.
      await until(() => !isRunning(grandchild), 3000, 'grandchild gone');
      await until(() => childrenOf(server.pid).length === 0, 3000, 'no children left');
    } finally {
      await server.stop();
    }
  });
});

describe('backpressure', () => {
  it('a program flooding a client that does not read is paused; nothing is dropped', async () => {
    const lines = 1_000_000;
    const server = await startProgramServer([
      '--port=0',
      '--address=127.0.0.1',
      fixture('flood.sh'),
      String(lines),
    ]);
    try {
      const baseline = rssOf(server.pid);
      let pid = 0;
      let next = 1;
      let bad = '';
      let bytes = 0;
      const ws = new WebSocket(server.url('/'));
      ws.on('message', (data: Buffer) => {
        const text = data.toString();
        if (pid === 0) {
          pid = Number(text);
          ws.pause(); // stop reading: the server's send buffer fills, then the program must be paused
          return;
        }
        bytes += text.length + 1;
        if (text !== String(next) && !bad) bad = `expected ${next}, got ${text}`;
        next++;
      });
      const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
      await until(() => pid !== 0, 5000, 'the program pid');
      // Once buffers are full the program is blocked writing: what it wrote stops growing.
      let written = -1;
      const deadline = Date.now() + 30_000;
      for (;;) {
        const now = bytesWritten(pid);
        if (now === written) break;
        if (Date.now() > deadline) throw new Error('the program never blocked');
        written = now;
        await sleep(300);
      }
      await sleep(500);
      const after = bytesWritten(pid);
      assert.equal(after, written, 'still blocked 500 ms later');
      const total = Array.from({ length: lines }, (_, i) => String(i + 1).length + 1).reduce(
        (a, b) => a + b,
        0,
      );
      assert.ok(after < total, `the program was stopped before its end (${after} of ${total} bytes)`);
      const grown = rssOf(server.pid) - baseline;
      assert.ok(grown < 48 * 1024 * 1024, `server memory bounded: grew ${Math.round(grown / 1024)} KiB`);
      ws.resume();
      assert.equal(await closed, 1000);
      assert.equal(bad, '');
      assert.equal(next - 1, lines, 'every line arrived');
      assert.equal(bytes, total, 'every byte arrived');
    } finally {
      await server.stop();
    }
  });

  it('a client sending faster than the program reads is paused; nothing is dropped', async () => {
    const server = await startProgramServer([
      '--port=0',
      '--address=127.0.0.1',
      NODE,
      fixture('slow-reader.mjs'),
      '1500',
    ]);
    try {
      const baseline = rssOf(server.pid);
      const client = await connectRecorded(server.url('/'));
      await client.waitMessages(1); // "waiting"
      // Incompressible: with permessage-deflate negotiated (ws offers it) the bytes stay as many on the wire.
      const line = randomBytes(75_000).toString('base64');
      const count = 200;
      for (let i = 0; i < count; i++) client.ws.send(line);
      client.ws.send('END');
      await sleep(800);
      assert.ok(
        client.ws.bufferedAmount > 4 * 1024 * 1024,
        `the server stopped reading the client: ${client.ws.bufferedAmount} bytes still queued at the client`,
      );
      const grown = rssOf(server.pid) - baseline;
      assert.ok(grown < 48 * 1024 * 1024, `server memory bounded: grew ${Math.round(grown / 1024)} KiB`);
      await client.waitMessages(2, 20_000);
      assert.equal(client.texts()[1], `${count} ${count * (line.length + 1)}`);
      assert.equal((await client.closed).code, 1000);
    } finally {
      await server.stop();
    }
  });

  it('a program that never reads: the client is paused, and its leaving still stops the program', async () => {
    const server = await startProgramServer(['--port=0', '--address=127.0.0.1', fixture('never-reads.sh')]);
    try {
      const client = await connectRecorded(server.url('/'));
      await client.waitMessages(1);
      const pid = Number(client.texts()[0]);
      const chunk = randomBytes(48 * 1024).toString('base64'); // 64 KiB, incompressible
      for (let i = 0; i < 300; i++) client.ws.send(chunk);
      await sleep(800);
      assert.ok(
        client.ws.bufferedAmount > 4 * 1024 * 1024,
        `client held back: ${client.ws.bufferedAmount} bytes queued`,
      );
      assert.ok(isRunning(pid));
      client.ws.terminate();
      await until(() => !isRunning(pid), 5000, 'the program stopped');
      await until(() => childrenOf(server.pid).length === 0, 3000, 'no children left');
    } finally {
      await server.stop();
    }
  });
});

describe('a program that cannot start', () => {
  it('is a 500 at handshake time with a log line, not an accepted socket', async () => {
    const server = await startProgramServer([
      '--port=0',
      '--address=127.0.0.1',
      fixture('bad-interpreter.sh'),
    ]);
    try {
      const response = await rawUpgrade({ port: server.port, host: '127.0.0.1' }, { path: '/x' });
      assert.equal(response.status, 500);
      await server.waitForLog(
        /error 127\.0\.0\.1 \/x: cannot start .*bad-interpreter\.sh: ENOENT \(answered 500\)/,
      );
      await assert.rejects(connectRecorded(server.url('/')), { statusCode: 500 });
      assert.equal(childrenOf(server.pid).length, 0);
    } finally {
      await server.stop();
    }
  });
});

describe('shutdown', () => {
  it('SIGTERM: clients get 1001, programs are stopped (even one ignoring SIGINT/SIGTERM), exit 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wsb-shutdown-'));
    const server = await startProgramServer([
      '--port=0',
      '--address=127.0.0.1',
      NODE,
      fixture('signals.mjs'),
      join(dir, 'log'),
    ]);
    try {
      const client = await connectRecorded(server.url('/'));
      await client.waitMessages(1);
      const pid = Number(/^ready (\d+)$/.exec(client.texts()[0])![1]);
      const exited = server.shutdown();
      assert.equal((await client.closed).code, 1001);
      assert.deepEqual(await exited, { code: 0, signal: null });
      assert.equal(isRunning(pid), false, 'the program is gone');
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('1,000 connect/disconnect cycles with cat', () => {
  let server: ProgramServer;
  before(async () => {
    server = await startProgramServer(['--port=0', '--address=127.0.0.1', 'cat']);
  });
  after(() => server.stop());

  it('leave no zombie, no child and no leaked descriptor', async () => {
    const cycle = async (): Promise<void> => {
      const client = await connectRecorded(server.url('/'));
      client.ws.send('ping');
      await client.waitMessages(1);
      client.ws.close(1000);
      await client.closed;
    };
    for (let i = 0; i < 20; i++) await cycle(); // warm up: lazily opened descriptors
    await until(() => childrenOf(server.pid).length === 0, 5000, 'warm-up children gone');
    const fdsBefore = fdCount(server.pid);
    let zombiesSeen = 0;
    const workers = 8;
    let done = 0;
    await Promise.all(
      Array.from({ length: workers }, async () => {
        while (done < 1000) {
          done++;
          await cycle();
          if (done % 100 === 0) zombiesSeen = Math.max(zombiesSeen, zombiesOf(server.pid).length);
        }
      }),
    );
    await until(() => childrenOf(server.pid).length === 0, 5000, 'every program gone');
    assert.equal(zombiesOf(server.pid).length, 0);
    assert.ok(zombiesSeen <= workers, `zombies never pile up (at most ${zombiesSeen} seen mid-run)`);
    const fdsAfter = fdCount(server.pid);
    assert.ok(fdsAfter <= fdsBefore + 2, `descriptors: ${fdsBefore} before, ${fdsAfter} after`);
  });
});
