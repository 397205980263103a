/**
 * FIFO hygiene: a path that exists and is not a FIFO is refused (exit 2, one line naming it), FIFOs are
 * created when missing and removed at shutdown, and the process stays idle while nothing is written
 * (a coarse guard against gwsocket's 100 % CPU bug, issue #53; not a benchmark).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  catReader,
  catWriter,
  CLI,
  connect,
  cpuShare,
  run,
  sh,
  shq,
  sleep,
  startBridge,
  type Bridge,
  type Client,
  type Proc,
} from '../helpers/pipe-harness.js';

const isFifo = (path: string): boolean => {
  try {
    return lstatSync(path).isFIFO();
  } catch {
    return false;
  }
};

describe('FIFO hygiene', () => {
  const dirs: string[] = [];
  const bridges: Bridge[] = [];
  const procs: Proc[] = [];
  const clients: Client[] = [];
  after(async () => {
    for (const c of clients) c.ws.terminate();
    for (const p of procs) await p.kill();
    for (const b of bridges) await b.cleanup();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const tmp = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'wsbridge-pipe-'));
    dirs.push(d);
    return d;
  };

  for (const which of ['pipein', 'pipeout'] as const) {
    it(`an existing regular file at --${which}: exit 2 with one line naming the path; the file is left alone`, async () => {
      const dir = tmp();
      const file = join(dir, 'not-a-fifo');
      writeFileSync(file, 'precious\n');
      const other = join(dir, 'other.fifo');
      const flags =
        which === 'pipein'
          ? [`--pipein=${file}`, `--pipeout=${other}`]
          : [`--pipein=${other}`, `--pipeout=${file}`];
      const result = await run(process.execPath, [CLI, '-p', '0', ...flags], {
        allowFailure: true,
        ms: 10_000,
      });
      assert.equal(result.code, 2);
      const lines = result.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, result.stderr);
      assert.ok(lines[0].includes(file), lines[0]);
      assert.match(lines[0], /not a FIFO/);
      assert.equal(readFileSync(file, 'utf8'), 'precious\n');
      assert.equal(result.stdout.length, 0);
      assert.equal(isFifo(other), false, 'no FIFO left behind after the refusal');
    });
  }

  it('a directory at --pipein is refused the same way', async () => {
    const dir = tmp();
    const sub = join(dir, 'a-directory');
    mkdirSync(sub);
    const result = await run(
      process.execPath,
      [CLI, '-p', '0', `--pipein=${sub}`, `--pipeout=${join(dir, 'o')}`],
      {
        allowFailure: true,
      },
    );
    assert.equal(result.code, 2);
    assert.equal(result.stderr.trimEnd().split('\n').length, 1);
    assert.ok(result.stderr.includes(sub));
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`FIFOs are created when missing and removed on ${signal} (exit 0)`, async () => {
      const bridge = await startBridge();
      bridges.push(bridge);
      assert.ok(isFifo(bridge.pipeIn), 'input FIFO created');
      assert.ok(isFifo(bridge.pipeOut), 'output FIFO created');
      // used once, so the shutdown has open descriptors to close
      const c = await connect(bridge.url());
      clients.push(c);
      await sh(`printf 'x\\n' > ${shq(bridge.pipeIn)}`);
      await c.waitCount(1);
      const { code } = await bridge.stop(signal);
      assert.equal(code, 0);
      assert.equal(existsSync(bridge.pipeIn), false, 'input FIFO removed');
      assert.equal(existsSync(bridge.pipeOut), false, 'output FIFO removed');
    });
  }

  it('an existing FIFO is used (not refused) and removed at shutdown', async () => {
    const dir = tmp();
    const fifoIn = join(dir, 'made-before.fifo');
    await run('mkfifo', [fifoIn]);
    const bridge = await startBridge([`--pipein=${fifoIn}`]);
    bridges.push(bridge);
    const c = await connect(bridge.url());
    clients.push(c);
    await sh(`printf 'through a FIFO made beforehand\\n' > ${shq(fifoIn)}`);
    await c.waitCount(1);
    assert.deepEqual(c.texts(), ['through a FIFO made beforehand']);
    await bridge.stop('SIGINT');
    assert.equal(existsSync(fifoIn), false);
  });

  it('stays near idle (< 10 % of a CPU over 1 s) with no writer, after writers and readers came and went, and with an idle writer attached', async () => {
    const bridge = await startBridge();
    bridges.push(bridge);
    const c = await connect(bridge.url());
    clients.push(c);
    await sleep(300); // let start-up work settle
    const shares: Record<string, number> = {};
    shares['no writer yet'] = await cpuShare(bridge.pid);

    // a writer comes and goes; an output reader comes and goes (gwsocket spun at 100 % after that, #53)
    await sh(`printf 'hello\\n' > ${shq(bridge.pipeIn)}`);
    await c.waitCount(1);
    const reader = catReader(bridge.pipeOut);
    procs.push(reader);
    c.ws.send('to the reader');
    await reader.waitStdout((out) => out.includes('to the reader\n'), 5_000, 'reader');
    await reader.kill();
    c.ws.send('nobody reads this one');
    await bridge.waitLog(/output pipe reader went away|record dropped/, 5_000).catch(() => undefined);
    await sleep(300);
    shares['after a writer and a reader left'] = await cpuShare(bridge.pid);

    const writer = catWriter(bridge.pipeIn);
    procs.push(writer.proc);
    await writer.write('attached\n');
    await c.waitCount(2);
    await sleep(100);
    shares['idle writer attached'] = await cpuShare(bridge.pid);
    await writer.end();
    await sleep(100);
    shares['after that writer closed'] = await cpuShare(bridge.pid);

    console.log(`# CPU share of wsbridge: ${JSON.stringify(shares)}`);
    for (const [state, share] of Object.entries(shares))
      assert.ok(share < 0.1, `${state}: ${(share * 100).toFixed(1)} % CPU`);
  });
});
