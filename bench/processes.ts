/**
 * The bench parent's child processes: every process started through `track` (and every temporary directory
 * made by `makeTempDir`) is cleaned up when the bench exits, however it exits (normal end, exception,
 * Ctrl-C, SIGTERM); plus stopping a child politely and reading a process's CPU time.
 *
 * Imported by the parent only: the signal handlers below must not be installed in the server children.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withTimeout } from './common.js';

const live = new Set<ChildProcess>();
const dirs = new Set<string>();

function killAll(): void {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
}

process.on('exit', () => {
  killAll();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
  process.on(signal, () => {
    killAll();
    process.exit(130); // runs the 'exit' handler above, which removes the directories
  });

/** Kills `child` when the bench exits, unless it has exited (or been `untrack`ed) by then. */
export function track<C extends ChildProcess>(child: C): C {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** Stops killing `child` at exit: for a child that was killed or stopped but may not report its exit. */
export function untrack(child: ChildProcess): void {
  live.delete(child);
}

/** Asks `child` to exit with `polite()`, then SIGKILLs it after 8 s; resolves once it is gone (or 5 s later). */
export async function stopChild(child: ChildProcess, polite: () => void): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    polite();
  } catch {
    // already gone
  }
  await withTimeout(gone, 8_000, 'child exit').catch(async () => {
    child.kill('SIGKILL');
    await withTimeout(gone, 5_000, 'child kill').catch(() => undefined);
  });
  untrack(child);
}

/** A new temporary directory, removed at exit unless `removeTempDir` removed it before. */
export function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  dirs.delete(dir);
}

/**
 * utime+stime of a process (its threads included), seconds, from /proc/PID/stat; with `reapedChildren`,
 * plus cutime+cstime (the children it has waited for, e.g. the programs wsbridge runs). NaN once the
 * process is gone.
 */
export function cpuSeconds(pid: number, reapedChildren = false): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const own = Number(fields[11]) + Number(fields[12]);
    return (reapedChildren ? own + Number(fields[13]) + Number(fields[14]) : own) / 100;
  } catch {
    return NaN;
  }
}

/**
 * The port a wsbridge CLI child announces on stderr (`listening on ws://HOST:PORT`, at log level info);
 * `stderr()` is what the caller has read of it so far (its encoding set to utf8). Rejects if the child
 * exits first or after 15 s; the caller decides what to do with the child then.
 */
export function listeningPort(child: ChildProcess, stderr: () => string): Promise<number> {
  return withTimeout(
    new Promise<number>((resolve, reject) => {
      const onData = (): void => {
        const m = /listening on ws:\/\/(?:\[[^\]]*\]|[^\s:]+):(\d+)/.exec(stderr());
        if (m) {
          child.stderr!.off('data', onData);
          resolve(Number(m[1]));
        }
      };
      child.stderr!.on('data', onData);
      child.once('exit', (code) => reject(new Error(`wsbridge exited (${code}): ${stderr().trim()}`)));
    }),
    15_000,
    'wsbridge CLI start',
  );
}

/**
 * The environment for a child running `ws`: with `native` false, ws is told not to load bufferutil and
 * utf-8-validate (pure JS); with `native` true, whatever the parent's environment said about that is dropped.
 */
export function wsEnv(native: boolean): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.WS_NO_BUFFER_UTIL;
  delete env.WS_NO_UTF_8_VALIDATE;
  if (!native) {
    env.WS_NO_BUFFER_UTIL = '1';
    env.WS_NO_UTF_8_VALIDATE = '1';
  }
  return env;
}
