/**
 * Pipe mode over standard input/output: `tail -f file | wsbridge --std` (run through sh), `--stdout`
 * carrying exactly the client data (logs stay on stderr), `--stdin`, and strict records over stdio.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  connect,
  cpuShare,
  parseRecords,
  record,
  sh,
  shq,
  startBridge,
  T,
  until,
  type Bridge,
  type Client,
} from '../helpers/pipe-harness.js';

const bridges: Bridge[] = [];
const clients: Client[] = [];
after(async () => {
  for (const c of clients) c.ws.terminate();
  for (const b of bridges) await b.cleanup();
});

async function client(bridge: Bridge): Promise<Client> {
  const c = await connect(bridge.url());
  clients.push(c);
  return c;
}

describe('pipe mode over stdio', () => {
  it('tail -f file | wsbridge --std: lines already in the file and lines appended later reach clients; client messages go to stdout', async () => {
    const bridge = await startBridge([], {
      noFifoFlags: true,
      shell:
        'printf "already there\\n" > "$DIR/app.log"; tail -n +1 -f "$DIR/app.log" | eval "$WSBRIDGE --std"',
    });
    bridges.push(bridge);
    assert.ok(bridge.pid > 0, 'found the wsbridge process in the pipeline');
    const c = await client(bridge);
    await c.waitCount(1); // written before any client connected: kept in the backlog
    appendFileSync(join(bridge.dir, 'app.log'), 'appended 1\nappended 2\n');
    await c.waitCount(3);
    appendFileSync(join(bridge.dir, 'app.log'), 'appended 3\n');
    await c.waitCount(4);
    assert.deepEqual(c.texts(), ['already there', 'appended 1', 'appended 2', 'appended 3']);
    c.ws.send('from the browser');
    await bridge.proc.waitStdout((out) => out.includes('from the browser\n'), 5_000, 'stdout');
    assert.equal(bridge.proc.stdout().toString(), 'from the browser\n');
    assert.equal(existsSync(bridge.pipeIn), false, 'no FIFO is created with --std');
    const { code } = await bridge.stop('SIGINT');
    assert.equal(code, 0, 'the pipeline ends once wsbridge exits (tail sees its reader gone)');
  });

  it('--stdout: client messages are written to stdout, and nothing else is (logs go to stderr)', async () => {
    const bridge = await startBridge(['--stdout', '--log-level=debug']);
    bridges.push(bridge);
    const a = await client(bridge);
    const b = await client(bridge);
    a.ws.send('one');
    await bridge.proc.waitStdout((out) => out.includes('one\n'), 5_000, 'first');
    b.ws.send('two — ü');
    await bridge.proc.waitStdout((out) => out.includes('two — ü\n'), 5_000, 'second');
    a.ws.send(Buffer.from('three'), { binary: true });
    await bridge.proc.waitStdout((out) => out.includes('three\n'), 5_000, 'all');
    assert.equal(bridge.proc.stdout().toString(), 'one\ntwo — ü\nthree\n');
    assert.match(bridge.stderr(), /info open #1 /);
    // the input side is still the FIFO
    await sh(`printf 'via the fifo\\n' > ${shq(bridge.pipeIn)}`);
    await a.waitCount(1);
    assert.deepEqual(a.texts(), ['via the fifo']);
    assert.equal(existsSync(bridge.pipeOut), false, 'no output FIFO with --stdout');
  });

  it('--stdin: lines written to standard input reach clients; at its end the last line is delivered and clients stay connected', async () => {
    const bridge = await startBridge(['--stdin']);
    bridges.push(bridge);
    const c = await client(bridge);
    const stdin = bridge.proc.child.stdin!;
    stdin.write('first\nsec');
    stdin.write('ond\n');
    await c.waitCount(2);
    stdin.end('last without newline');
    await c.waitCount(3);
    await bridge.waitLog('input closed: no more data from the application (clients stay connected)');
    assert.deepEqual(c.texts(), ['first', 'second', 'last without newline']);
    assert.equal(c.isClosed(), false);
    assert.equal(existsSync(bridge.pipeIn), false, 'no input FIFO with --stdin');
    // at end of input it waits quietly (no busy loop on a closed stdin)
    const share = await cpuShare(bridge.pid);
    assert.ok(share < 0.1, `${(share * 100).toFixed(1)} % CPU after stdin ended`);
  });

  it('--std --strict: records in on stdin, records out on stdout', async () => {
    const bridge = await startBridge(['--std', '--strict'], { noFifoFlags: true });
    bridges.push(bridge);
    const c = await client(bridge);
    await until(() => parseRecords(bridge.proc.stdout()).records.length >= 1, 5_000, 'open record');
    const [open] = parseRecords(bridge.proc.stdout()).records;
    assert.equal(open.type, T.Open);
    bridge.proc.child.stdin!.write(
      Buffer.concat([record(open.id, T.Text, 'addressed'), record(0, T.Text, 'to all')]),
    );
    await c.waitCount(2);
    assert.deepEqual(c.texts(), ['addressed', 'to all']);
    c.ws.send('up');
    await until(() => parseRecords(bridge.proc.stdout()).records.length >= 2, 5_000, 'message record');
    const [, message] = parseRecords(bridge.proc.stdout()).records;
    assert.deepEqual([message.id, message.type, message.payload.toString()], [open.id, T.Text, 'up']);
  });
});
