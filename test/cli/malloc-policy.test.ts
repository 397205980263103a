/**
 * bin/wsbridge (the installed command) starts the CLI under the glibc malloc policy: the process it
 * starts is the server itself (exec: same pid), runs with the tunables, respects the user's own ones,
 * has an opt-out, and keeps stdin, exit codes and SIGTERM right. Real processes throughout.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, nextMessage, openWs, stopProcess, waitExit } from '../helpers/peers.js';

const BIN = join(REPO_ROOT, 'bin', 'wsbridge');
const POLICY = 'glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=134217728';
const LISTENING = /listening on ws:\/\/[^\s/]+:(\d+)/;
const children: ChildProcess[] = [];
after(async () => {
  for (const child of children) await stopProcess(child);
});

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  if (!('GLIBC_TUNABLES' in extra)) delete env.GLIBC_TUNABLES;
  if (!('WSBRIDGE_MALLOC_POLICY' in extra)) delete env.WSBRIDGE_MALLOC_POLICY;
  return env;
}

/** Starts bin/wsbridge and resolves with the port once it listens. */
async function launch(
  args: string[],
  extra: Record<string, string> = {},
): Promise<{ child: ChildProcess; port: number; stdout(): string }> {
  const child = spawn(BIN, args, { env: cleanEnv(extra), stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  let stderr = '';
  let stdout = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  const port = await new Promise<number>((resolve, reject) => {
    child.stderr!.setEncoding('utf8').on('data', (s: string) => {
      stderr += s;
      const match = LISTENING.exec(stderr);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`exited ${code} before listening: ${stderr}`)));
  });
  return { child, port, stdout: () => stdout };
}

function environOf(pid: number): Map<string, string> {
  const vars = new Map<string, string>();
  let last = '';
  for (const entry of readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0')) {
    // glibc's loader (2.36) splits GLIBC_TUNABLES in place, one NUL per ':': join the pieces back.
    if (last === 'GLIBC_TUNABLES' && entry.startsWith('glibc.')) {
      vars.set(last, `${vars.get(last)}:${entry}`);
      continue;
    }
    const eq = entry.indexOf('=');
    if (eq > 0) vars.set((last = entry.slice(0, eq)), entry.slice(eq + 1));
  }
  return vars;
}

/** The pid we spawned is node running main.js (the shell exec'd it), and it is the one listening. */
function assertIsServer(pid: number): void {
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  assert.match(argv[0], /node/);
  assert.match(argv[1], /dist\/src\/cli\/main\.js$/);
}

describe('bin/wsbridge malloc policy', { skip: process.platform !== 'linux' && 'needs /proc' }, () => {
  it('the spawned pid is the server and runs with the tunables; echo works', async () => {
    const { child, port } = await launch(['--echo-mode', '-p', '0']);
    assertIsServer(child.pid!);
    assert.equal(environOf(child.pid!).get('GLIBC_TUNABLES'), POLICY);
    const ws = await openWs(`ws://127.0.0.1:${port}/`);
    ws.send(Buffer.alloc(1 << 20, 7));
    const reply = await nextMessage(ws);
    assert.equal((reply.data as Buffer).length, 1 << 20);
    ws.close();
    child.kill('SIGTERM');
    assert.deepEqual(await waitExit(child), { code: 0, signal: null }, 'SIGTERM: clean shutdown');
  });

  it("the user's own keys win and their other tunables are kept", async () => {
    const mine = 'glibc.malloc.mmap_threshold=65536:glibc.malloc.arena_max=2';
    const { child } = await launch(['--echo-mode', '-p', '0'], { GLIBC_TUNABLES: mine });
    assert.equal(
      environOf(child.pid!).get('GLIBC_TUNABLES'),
      `${mine}:glibc.malloc.trim_threshold=134217728`,
    );
    await stopProcess(child);
  });

  it('WSBRIDGE_MALLOC_POLICY=off starts node untouched', async () => {
    const { child } = await launch(['--echo-mode', '-p', '0'], { WSBRIDGE_MALLOC_POLICY: 'off' });
    assertIsServer(child.pid!);
    assert.equal(environOf(child.pid!).has('GLIBC_TUNABLES'), false);
    await stopProcess(child);
  });

  it('programs wsbridge starts get the user environment back, not the policy', async () => {
    const { child, port } = await launch(
      ['--port=0', '--passenv=GLIBC_TUNABLES', '--', 'sh', '-c', 'echo "[${GLIBC_TUNABLES-unset}]"'],
      {
        GLIBC_TUNABLES: 'glibc.malloc.arena_max=2',
      },
    );
    assert.match(environOf(child.pid!).get('GLIBC_TUNABLES')!, /mmap_threshold=33554432/);
    const ws = await openWs(`ws://127.0.0.1:${port}/`);
    const line = await nextMessage(ws);
    assert.equal(String(line.data).trim(), '[glibc.malloc.arena_max=2]');
    ws.close();
    await stopProcess(child);
  });

  it('pipe mode --std still takes stdin to clients; SIGTERM exits 0', async () => {
    const { child, port } = await launch(['--std', '-p', '0']);
    const ws = await openWs(`ws://127.0.0.1:${port}/`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    child.stdin!.write('hello from stdin\n');
    const message = await nextMessage(ws);
    assert.equal(String(message.data).trim(), 'hello from stdin');
    ws.close();
    child.kill('SIGTERM');
    assert.deepEqual(await waitExit(child), { code: 0, signal: null });
  });

  it('a usage error still exits with its code', async () => {
    const child = spawn(BIN, ['--no-such-flag'], { env: cleanEnv({}), stdio: 'ignore' });
    children.push(child);
    const result = await waitExit(child);
    assert.notEqual(result.code, 0);
    assert.equal(result.signal, null);
  });
});
