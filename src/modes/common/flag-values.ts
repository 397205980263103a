/** Checked flag values shared by every command line (gwsocket, websocketd and websocksy styles). */
import { UsageError } from './usage-error.js';

/**
 * A whole number from `min` to `max`, or `fallback` when the flag was not given. `flag` is the flag as
 * its command line spells it (`--port`, or `-port` in websocketd style), for the one-line error.
 */
export function integerFlag(
  flag: string,
  value: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max)
    throw new UsageError(`${flag} must be a whole number from ${min} to ${max}, got '${value}'`);
  return n;
}

/** `--max-frame-size`'s range, the same in every mode (bytes). */
export const MAX_FRAME_RANGE = [1, 2 ** 32 - 1] as const;
