/**
 * Nothing is lost silently: the backlog kept while no client is connected, slow clients (dropped or
 * closed, never slowing the others), and a full output pipe pausing clients until it drains. Real CLI,
 * real FIFOs, `ws` clients (a slow client is one whose socket is paused: it never reads).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  catInto,
  connect,
  sh,
  shq,
  sleep,
  start,
  startBridge,
  type Bridge,
  type Client,
  type Proc,
} from '../helpers/pipe-harness.js';

function scope(): {
  bridge(args?: string[]): Promise<Bridge>;
  client(bridge: Bridge): Promise<Client>;
  track(proc: Proc): Proc;
  cleanup(): Promise<void>;
} {
  const bridges: Bridge[] = [];
  const clients: Client[] = [];
  const procs: Proc[] = [];
  return {
    bridge: async (args = []) => {
      const b = await startBridge(args);
      bridges.push(b);
      return b;
    },
    client: async (bridge) => {
      const c = await connect(bridge.url());
      clients.push(c);
      return c;
    },
    track: (proc) => {
      procs.push(proc);
      return proc;
    },
    cleanup: async () => {
      for (const c of clients) c.ws.terminate();
      for (const p of procs) await p.kill();
      for (const b of bridges) await b.cleanup();
    },
  };
}

/** `count` numbered lines of `size` bytes (newline excluded): "000001 xxx…". */
function numberedLines(count: number, size: number): Buffer {
  const pad = 'x'.repeat(size - 7);
  const lines: string[] = [];
  for (let i = 1; i <= count; i++) lines.push(`${String(i).padStart(6, '0')} ${pad}\n`);
  return Buffer.from(lines.join(''));
}

const numberOf = (text: string): number => Number(text.slice(0, 6));

/** Stops the bridge (SIGINT) and returns the statistics it logs on the way out. */
async function statsAtExit(bridge: Bridge): Promise<Record<string, number>> {
  const { code } = await bridge.stop('SIGINT');
  assert.equal(code, 0);
  const line = bridge
    .stderr()
    .split('\n')
    .find((l) => l.includes('pipe statistics: '));
  assert.ok(line, `statistics line in:\n${bridge.stderr()}`);
  return JSON.parse(line.slice(line.indexOf('{'))) as Record<string, number>;
}

describe('pipe mode, no client connected: --backlog', () => {
  const s = scope();
  after(() => s.cleanup());

  it('broadcasts written with no client are kept up to --backlog and delivered to the next client; the older ones are dropped, counted and logged', async () => {
    const bridge = await s.bridge(['--backlog=3']);
    await sh(`printf 'l1\\nl2\\nl3\\nl4\\nl5\\n' > ${shq(bridge.pipeIn)}`);
    await bridge.waitLog(/no client connected and backlog full \(3\): oldest message dropped/);
    const first = await s.client(bridge);
    await first.waitCount(3);
    await bridge.waitLog('delivered 3 messages kept while no client was connected');
    const second = await s.client(bridge);
    await sh(`printf 'live\\n' > ${shq(bridge.pipeIn)}`);
    await first.waitCount(4);
    await second.waitCount(1);
    await sleep(100);
    assert.deepEqual(first.texts(), ['l3', 'l4', 'l5', 'live']);
    assert.deepEqual(second.texts(), ['live'], 'the backlog goes to one client, once');
    const stats = await statsAtExit(bridge);
    assert.equal(stats.droppedNoClient, 2);
  });

  it('the default backlog (100) keeps what is written before the first client connects (gwsocket lost it, issue #51)', async () => {
    const bridge = await s.bridge();
    await sh(`printf 'written early\\n' > ${shq(bridge.pipeIn)}`);
    await sleep(200);
    const c = await s.client(bridge);
    await c.waitCount(1);
    assert.deepEqual(c.texts(), ['written early']);
  });

  it('--backlog=0: written with no client is dropped, and that is logged and counted', async () => {
    const bridge = await s.bridge(['--backlog=0']);
    await sh(`printf 'gone\\n' > ${shq(bridge.pipeIn)}`);
    await bridge.waitLog('no client connected: message dropped (backlog is 0)');
    const c = await s.client(bridge);
    await sh(`printf 'kept\\n' > ${shq(bridge.pipeIn)}`);
    await c.waitCount(1);
    assert.deepEqual(c.texts(), ['kept']);
    const stats = await statsAtExit(bridge);
    assert.equal(stats.droppedNoClient, 1);
  });
});

describe('pipe mode, slow clients', () => {
  const s = scope();
  after(() => s.cleanup());

  // 20 MB of broadcasts: far more than the kernel's socket buffers can hide for a client that never reads.
  const COUNT = 40_000;
  const SIZE = 500;

  it('--slow-client=drop: a client that never reads does not hold back a fast one; its drops are logged, and it gets messages again once it catches up', async () => {
    const bridge = await s.bridge(['--max-client-buffer=262144']);
    const slow = await s.client(bridge);
    const fast = await s.client(bridge);
    slow.ws.pause();
    await catInto(bridge.pipeIn, numberedLines(COUNT, SIZE));
    await fast.waitCount(COUNT, 30_000);
    const numbers = fast.texts().map(numberOf);
    assert.deepEqual(
      numbers,
      Array.from({ length: COUNT }, (_, i) => i + 1),
      'the fast client got every message, in order',
    );
    const line = await bridge.waitLog(
      /client #\d+ too slow \(\d+ bytes queued\): dropping its messages until it catches up/,
    );
    assert.ok(line);

    slow.ws.resume();
    await sleep(500); // it reads what was queued for it
    const got = slow.texts().map(numberOf);
    assert.ok(got.length < COUNT, `the slow client missed messages (got ${got.length})`);
    for (let i = 1; i < got.length; i++) assert.ok(got[i] > got[i - 1], 'what it got is in order');
    await sh(`printf '999999 after catching up\\n' > ${shq(bridge.pipeIn)}`);
    await slow.waitFor(
      (m) => m.data.toString() === '999999 after catching up',
      5_000,
      'slow client recovered',
    );
    await fast.waitCount(COUNT + 1);
    await bridge.waitLog(/client #\d+ caught up after \d+ dropped messages?/);
    const stats = await statsAtExit(bridge);
    assert.equal(
      stats.droppedSlowClient,
      COUNT - got.length,
      'every message the slow client missed is counted',
    );
  });

  it('--slow-client=close: a client that never reads is closed with 1008; the fast one gets everything', async () => {
    const bridge = await s.bridge(['--max-client-buffer=262144', '--slow-client=close']);
    const slow = await s.client(bridge);
    const fast = await s.client(bridge);
    slow.ws.pause();
    await catInto(bridge.pipeIn, numberedLines(COUNT, SIZE));
    await fast.waitCount(COUNT, 30_000);
    assert.deepEqual(
      fast.texts().map(numberOf),
      Array.from({ length: COUNT }, (_, i) => i + 1),
    );
    await bridge.waitLog(/client #\d+ too slow \(\d+ bytes queued\): closing it/);
    slow.ws.resume(); // it reads what was queued before the close frame, then the close frame
    const { code, reason } = await slow.closed;
    assert.equal(code, 1008);
    assert.match(reason, /too slow/);
    assert.ok(slow.messages.length < COUNT);
    assert.equal(fast.isClosed(), false);
    const stats = await statsAtExit(bridge);
    assert.equal(stats.closedSlowClients, 1);
  });
});

describe('pipe mode, output pipe full', () => {
  const s = scope();
  after(() => s.cleanup());

  it('a reader that does not read yet: clients are paused (not dropped) and everything arrives in order once it reads', async () => {
    const bridge = await s.bridge(['--log-level=debug']);
    const c = await s.client(bridge);
    // holds the output FIFO open without reading until the file "go" exists, then reads it all
    const go = `${bridge.dir}/go`;
    const reader = s.track(
      start('/bin/sh', [
        '-c',
        `exec 3< ${shq(bridge.pipeOut)}; while [ ! -e ${shq(go)} ]; do sleep 0.05; done; exec cat <&3`,
      ]),
    );
    const payload = (i: number): string => `${String(i).padStart(6, '0')} ${'y'.repeat(10_000)}`;
    c.ws.send(payload(1)); // the output FIFO is opened for writing once there is something to write
    await bridge.waitLog('output pipe: reader attached');
    const COUNT = 400;
    for (let i = 2; i <= COUNT; i++) c.ws.send(payload(i));
    await bridge.waitLog('output is full: pausing clients', 5_000);
    await sleep(300);
    assert.doesNotMatch(
      bridge.stderr(),
      /output drained/,
      'clients stay paused while the reader does not read',
    );
    await sh(`touch ${shq(go)}`);
    await bridge.waitLog('output drained: resuming clients', 10_000);
    const expected = Array.from({ length: COUNT }, (_, i) => payload(i + 1) + '\n').join('');
    await reader.waitStdout((out) => out.length >= expected.length, 20_000, 'all client messages');
    assert.equal(reader.stdout().toString(), expected);
    const stats = await statsAtExit(bridge);
    assert.equal(stats.fromClients, COUNT);
    assert.doesNotMatch(bridge.stderr(), /record dropped|in flight lost|reader went away/);
  });
});
