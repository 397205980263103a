/**
 * Issue #10: the server flags pipe/echo and socket modes share mean the same in both (same values
 * accepted and refused, the same effect), and chunk framing keeps to --max-frame-size.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import WebSocket from 'ws';
import { CLI_PATH, openWs, runCli, settle, startCli, stopProcess, tempDir, until } from '../helpers/peers.js';

const MODES = {
  echo: ['--echo-mode'],
  socket: ['--peer=tcp://127.0.0.1:1'],
} as const;

/** Each shared flag with values every mode must accept and values every mode must refuse. */
const SHARED: [flag: string, good: string[], bad: string[]][] = [
  ['--max-frame-size', ['1', '4294967295'], ['0', '4294967296', 'x']],
  ['--ping-interval', ['0', '2147483647'], ['-1', '2147483648', '1.5']],
  ['--max-connections', ['1'], ['0', 'x']],
  ['--deflate', ['on', 'off'], ['yes', '']],
  ['--deflate-threshold', ['0'], ['x']],
  ['--deflate-level', ['0', '9'], ['10']],
  ['--deflate-mem-level', ['1', '9'], ['0', '10']],
  ['--deflate-window-bits', ['9', '15'], ['8', '16']],
  // (error would hide the listening line the harness waits for)
  ['--log-level', ['info', 'debug'], ['loud']],
  ['--port', ['0'], ['65536', 'x']],
];

describe('shared flags: every mode refuses the same values', { concurrency: 4 }, () => {
  for (const [flag, , bad] of SHARED)
    for (const value of bad)
      for (const [mode, args] of Object.entries(MODES))
        it(`${mode}: ${flag}=${value} is refused`, async () => {
          const result = await runCli([...args, '--addr=127.0.0.1', `${flag}=${value}`]);
          assert.equal(result.code, 2, result.stderr);
          assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
          assert.ok(result.stderr.includes(flag), result.stderr);
        });
});

describe('shared flags: every mode accepts the same values', { concurrency: 4 }, () => {
  for (const [flag, good] of SHARED)
    for (const value of good)
      for (const [mode, args] of Object.entries(MODES))
        it(`${mode}: ${flag}=${value} starts`, async () => {
          const port = flag === '--port' ? [] : ['--port=0'];
          const cli = await startCli([...args, '--addr=127.0.0.1', ...port, `${flag}=${value}`]);
          await cli.stop();
        });
});

describe('socket mode takes --deflate and --access-log as pipe mode does', () => {
  const dir = tempDir();
  after(() => dir.cleanup());

  for (const [deflate, expected] of [
    ['on', 'permessage-deflate'],
    ['off', undefined],
  ] as const)
    it(`--deflate=${deflate}`, async () => {
      const log = join(dir.path, `access-${deflate}.log`);
      const cli = await startCli([
        '--peer=tcp://127.0.0.1:1',
        '--addr=127.0.0.1',
        '--port=0',
        `--deflate=${deflate}`,
        `--access-log=${log}`,
      ]);
      try {
        // The peer is unreachable, so the handshake is refused (502): the access log still gets its line.
        const answer = await new Promise<number>((resolve) => {
          const ws = new WebSocket(`ws://127.0.0.1:${cli.port}/`, { perMessageDeflate: true });
          ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
          ws.on('error', () => undefined);
        });
        assert.equal(answer, 502);
        assert.ok(await until(() => existsSync(log) && readFileSync(log, 'utf8').includes('502')));
      } finally {
        await cli.stop();
      }
      // With a reachable (echoing) peer the handshake succeeds, and the extension is negotiated or not.
      const peer = createServer((s) => s.pipe(s));
      await new Promise<void>((resolve) => peer.listen(0, '127.0.0.1', resolve));
      const peerPort = (peer.address() as { port: number }).port;
      const bridge = await startCli([
        `--peer=tcp://127.0.0.1:${peerPort}`,
        '--addr=127.0.0.1',
        '--port=0',
        `--deflate=${deflate}`,
      ]);
      try {
        const ws = await openWs(`ws://127.0.0.1:${bridge.port}/`);
        assert.equal(ws.extensions ? ws.extensions.split(';')[0] || undefined : undefined, expected);
        await settle(ws);
      } finally {
        await bridge.stop();
        peer.close();
      }
    });
});

describe('chunk framing keeps to --max-frame-size', () => {
  it('a 25-byte read with --max-frame-size=10 arrives as messages of at most 10 bytes', async () => {
    const child = spawn(
      process.execPath,
      [CLI_PATH, '--std', '--framing=chunks', '--max-frame-size=10', '--addr=127.0.0.1', '--port=0'],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    try {
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
      assert.ok(await until(() => /listening on ws:\/\/[^ ]*:(\d+)/.test(stderr), 5_000), stderr);
      const port = Number(/listening on ws:\/\/[^ ]*:(\d+)/.exec(stderr)![1]);
      const ws = await openWs(`ws://127.0.0.1:${port}/`);
      const got: string[] = [];
      ws.on('message', (data) => got.push(String(data)));
      child.stdin.write('abcdefghijklmnopqrstuvwxy');
      assert.ok(await until(() => got.join('') === 'abcdefghijklmnopqrstuvwxy', 3_000), got.join('|'));
      for (const message of got) assert.ok(message.length <= 10, `a ${message.length}-byte message`);
      assert.equal(ws.readyState, WebSocket.OPEN, 'the client was not closed for a too-large message');
      await settle(ws);
    } finally {
      await stopProcess(child);
    }
  });
});
