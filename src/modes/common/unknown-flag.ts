/**
 * The one-line error for a flag a mode does not have: the nearest flag of that mode ("did you mean"),
 * or, when another mode has the flag, which mode it belongs to and this mode's own spelling of it.
 */
import { UsageError } from './usage-error.js';

export type FlagMode = 'pipe' | 'program' | 'socket';

/**
 * Each mode's long flag names. Each parser registers its own table when it loads (modes do not import
 * one another), so a hint can name another mode's flag whenever that mode is loaded, as in the CLI.
 */
const KNOWN: Partial<Record<FlagMode, readonly string[]>> = {};

export function registerFlags(mode: FlagMode, names: readonly string[]): void {
  KNOWN[mode] = names;
}

function modeFlags(mode: FlagMode): readonly string[] {
  return KNOWN[mode] ?? [];
}

/** True when `mode` is loaded and has no flag `name`. */
export function modeLacks(mode: FlagMode, name: string): boolean {
  return KNOWN[mode] !== undefined && !KNOWN[mode].includes(name);
}

/** How a mode spells a flag on its command line: program mode is websocketd's (`--loglevel`). */
const MODE_LABEL: Record<FlagMode, string> = {
  pipe: 'pipe-mode',
  program: 'program-mode',
  socket: 'socket-mode',
};
const MODE_NAME: Record<FlagMode, string> = {
  pipe: 'pipe mode',
  program: 'program mode',
  socket: 'socket mode',
};

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++)
      next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length];
}

/** Letters only, so `log-level`, `loglevel` and `logLevel` compare equal. */
const squash = (name: string): string => name.toLowerCase().replace(/[^a-z0-9]/g, '');

function nearest(name: string, names: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestScore = Infinity;
  for (const candidate of names) {
    const score = squash(candidate) === squash(name) ? 0 : distance(name, candidate);
    if (score < bestScore) [best, bestScore] = [candidate, score];
  }
  return best !== undefined && bestScore <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

/** A flag as its user typed it (`--x`, `-x`, `--x=1`), reduced to its name. */
export function flagName(arg: string): string {
  return arg.replace(/^--?/, '').split('=')[0];
}

/** The UsageError for `arg`, a flag `mode` does not know. */
export function unknownFlag(arg: string, mode: FlagMode): UsageError {
  const name = flagName(arg);
  const dashes = mode === 'program' ? '--' : arg.startsWith('--') || name.length > 1 ? '--' : '-';
  const own = nearest(name, modeFlags(mode));
  for (const other of ['pipe', 'socket', 'program'] as const) {
    if (other === mode || !modeFlags(other).includes(name)) continue;
    const hint = own ? `; ${MODE_NAME[mode]} uses --${own}` : ` (not one of ${MODE_NAME[mode]}'s)`;
    return new UsageError(`--${name} is a ${MODE_LABEL[other]} flag${hint}`);
  }
  if (own) return new UsageError(`unknown flag ${dashes}${name}: did you mean --${own}?`);
  for (const other of ['pipe', 'socket', 'program'] as const) {
    const near = other === mode ? undefined : nearest(name, modeFlags(other));
    if (near)
      return new UsageError(
        `unknown flag ${dashes}${name}: did you mean --${near} (a ${MODE_LABEL[other]} flag)?`,
      );
  }
  return new UsageError(`unknown flag ${dashes}${name}`);
}
