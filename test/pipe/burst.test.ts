/**
 * Burst: 100,000 numbered lines written into the input FIFO by `seq` (a child process writing as fast as
 * it can) reach each of 100 `ws` clients, all of them, in order, with the default slow-client policy.
 * Bounded: the test fails after 60 s rather than hanging.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { sh, shq, startBridge, until, type Bridge } from '../helpers/pipe-harness.js';

const MESSAGES = 100_000;
const CLIENTS = 100;

interface Counter {
  ws: WebSocket;
  count: number;
  /** First out-of-order message seen, if any. */
  disorder: string | undefined;
  closed: number | undefined;
}

describe('pipe mode burst', () => {
  let bridge: Bridge | undefined;
  const counters: Counter[] = [];
  after(async () => {
    for (const c of counters) c.ws.terminate();
    await bridge?.cleanup();
  });

  it(
    `${MESSAGES.toLocaleString('en')} broadcast lines from seq reach each of ${CLIENTS} clients, all in order`,
    { timeout: 90_000 },
    async () => {
      bridge = await startBridge();
      const url = bridge.url();
      await Promise.all(
        Array.from(
          { length: CLIENTS },
          () =>
            new Promise<void>((resolve, reject) => {
              const ws = new WebSocket(url);
              const counter: Counter = { ws, count: 0, disorder: undefined, closed: undefined };
              counters.push(counter);
              ws.on('message', (data: Buffer) => {
                const expected = `m${String(counter.count + 1).padStart(6, '0')}`;
                if (counter.disorder === undefined && data.toString() !== expected)
                  counter.disorder = `message ${counter.count + 1} was ${JSON.stringify(data.toString())}`;
                counter.count++;
              });
              ws.on('close', (code) => (counter.closed = code));
              ws.once('open', () => resolve());
              ws.once('error', reject);
            }),
        ),
      );
      const t0 = Date.now();
      await sh(`seq -f 'm%06g' 1 ${MESSAGES} > ${shq(bridge.pipeIn)}`, 60_000);
      const total = (): number => counters.reduce((sum, c) => sum + c.count, 0);
      let lastTotal = -1;
      let stalledSince = Date.now();
      await until(
        () => {
          const now = total();
          if (now !== lastTotal) {
            lastTotal = now;
            stalledSince = Date.now();
          }
          // stop waiting when everything arrived, or when nothing has moved for 3 s (drops: a finding)
          return now === MESSAGES * CLIENTS || Date.now() - stalledSince > 3_000;
        },
        60_000,
        'burst delivery',
        () => `received ${total()} of ${MESSAGES * CLIENTS}`,
        50,
      );
      const seconds = (Date.now() - t0) / 1000;
      const short = counters.filter((c) => c.count !== MESSAGES);
      const slowLog = bridge
        .stderr()
        .split('\n')
        .filter((l) => /too slow|dropped/.test(l));
      console.log(
        `# burst: ${(MESSAGES * CLIENTS).toLocaleString('en')} deliveries in ${seconds.toFixed(1)} s; ` +
          `${short.length} client(s) short; slow-client log lines: ${slowLog.length}`,
      );
      assert.deepEqual(
        short.map((c) => c.count),
        [],
        `clients short of ${MESSAGES} messages; bridge log:\n${slowLog.slice(0, 10).join('\n')}`,
      );
      assert.deepEqual(
        counters.filter((c) => c.disorder).map((c) => c.disorder),
        [],
      );
      assert.deepEqual(
        counters.filter((c) => c.closed !== undefined).map((c) => c.closed),
        [],
        `no client was closed; bridge exit: ${bridge.proc.child.exitCode ?? bridge.proc.child.signalCode}; bridge log:\n${bridge.stderr().split('\n').slice(-20).join('\n')}`,
      );
      assert.equal(slowLog.length, 0, slowLog.join('\n'));
    },
  );
});
