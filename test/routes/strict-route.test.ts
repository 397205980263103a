/**
 * A strict pipe route beside an echo route on one server: the application sees opens, messages and
 * closes of its own route's clients only, can address one of them, and is refused (an Error record, not
 * a silent drop) when it addresses a client of another route; a broadcast (id 0) reaches its route only.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, openSync, writeSync, closeSync, writeFileSync, type ReadStream } from 'node:fs';
import { join } from 'node:path';
import type WebSocket from 'ws';
import { encodeRecord, StrictType } from '../../src/framing/strict.js';
import {
  closed,
  echo,
  nextMessage,
  openWs,
  settle,
  startCli,
  tempDir,
  until,
  type CliServer,
} from '../helpers/peers.js';

interface OutRecord {
  id: number;
  type: number;
  payload: Buffer;
}

describe('a strict pipe route keeps to its own clients', () => {
  let dir: ReturnType<typeof tempDir>;
  let server: CliServer;
  let base: string;
  let output: ReadStream;
  let input: number;
  const records: OutRecord[] = [];
  const clients: WebSocket[] = [];
  const open = async (path: string): Promise<WebSocket> => {
    const ws = await openWs(`${base}${path}`);
    clients.push(ws);
    return ws;
  };
  const write = (record: Buffer): void => {
    writeSync(input, record);
  };

  before(async () => {
    dir = tempDir('wsb-strict-route-');
    const pipeIn = join(dir.path, 'in.fifo');
    const pipeOut = join(dir.path, 'out.fifo');
    const config = join(dir.path, 'strict.toml');
    writeFileSync(
      config,
      `[server]\nport = 0\naddr = "127.0.0.1"\n\n[[route]]\npath = "/echo"\ntype = "echo"\n\n` +
        `[[route]]\npath = "/app"\ntype = "pipe"\nstrict = true\npipein = "${pipeIn}"\npipeout = "${pipeOut}"\n`,
    );
    server = await startCli([`--config=${config}`]);
    base = `ws://127.0.0.1:${server.port}`;
    // The application's side of the output: 12-byte headers (id, type, length) and payloads.
    let held = Buffer.alloc(0);
    output = createReadStream(pipeOut);
    output.on('data', (chunk) => {
      held = Buffer.concat([held, chunk as Buffer]);
      while (held.length >= 12 && held.length >= 12 + held.readUInt32BE(8)) {
        const length = held.readUInt32BE(8);
        records.push({
          id: held.readUInt32BE(0),
          type: held.readUInt32BE(4),
          payload: held.subarray(12, 12 + length),
        });
        held = held.subarray(12 + length);
      }
    });
    input = openSync(pipeIn, 'w');
  });

  after(async () => {
    await Promise.all(clients.map(settle));
    if (input !== undefined) closeSync(input);
    output?.destroy();
    await server?.stop();
    dir?.cleanup();
  });

  it('sees its clients open and speak; its records reach the addressed client; others are refused', async () => {
    const bystander = await open('/echo');
    await echo(bystander, 'first');
    const member = await open('/app');
    assert.ok(await until(() => records.some((r) => r.type === StrictType.Open), 5000), 'an Open record');
    const opens = records.filter((r) => r.type === StrictType.Open);
    assert.equal(opens.length, 1, 'only the /app client opened as far as the application knows');
    const memberId = opens[0].id;
    const bystanderId = memberId - 1; // ids are given in order; the bystander connected just before

    member.send('hello app');
    assert.ok(await until(() => records.some((r) => r.type === StrictType.Text), 5000));
    const text = records.find((r) => r.type === StrictType.Text)!;
    assert.equal(text.id, memberId);
    assert.equal(text.payload.toString(), 'hello app');

    const direct = nextMessage(member);
    write(encodeRecord(memberId, StrictType.Text, Buffer.from('just for you')));
    assert.equal((await direct).data.toString(), 'just for you');

    const heard: string[] = [];
    bystander.on('message', (data) => heard.push(String(data)));
    write(encodeRecord(bystanderId, StrictType.Text, Buffer.from('not yours')));
    assert.ok(await until(() => records.some((r) => r.type === StrictType.Error), 5000), 'an Error record');
    const error = records.find((r) => r.type === StrictType.Error)!;
    assert.equal(error.id, bystanderId);
    assert.equal(error.payload.toString(), `no client with id ${bystanderId}`);

    const everyone = nextMessage(member);
    write(encodeRecord(0, StrictType.Text, Buffer.from('to all of /app')));
    assert.equal((await everyone).data.toString(), 'to all of /app');
    assert.equal((await echo(bystander, 'still here')).data.toString(), 'still here');
    assert.deepEqual(heard, ['still here'], 'the /echo client got neither record');

    const gone = closed(member);
    write(encodeRecord(memberId, StrictType.Close, Buffer.from([0x0f, 0xa0]))); // 4000
    assert.equal((await gone).code, 4000);
    assert.ok(await until(() => records.some((r) => r.type === StrictType.Close && r.id === memberId), 5000));
    assert.ok(!records.some((r) => r.id === bystanderId && r.type !== StrictType.Error));
  });
});
