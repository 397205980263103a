/**
 * websocksy's `newline` framing: cut after each newline (`crlf` by default, or `lfcr`, `lf`, `cr`), the
 * newline kept; text when the line is valid UTF-8, else binary. (The pipe hub's `lines.ts` strips the
 * newline instead, as gwsocket and websocketd do: a different contract, so a separate file.)
 */
import { FramingConfigError } from './framer.js';
import { SeparatorFramer } from './separator.js';

export const NEWLINES = { crlf: '\r\n', lfcr: '\n\r', lf: '\n', cr: '\r' } as const;

export function newlineFramer(config: string, maxSize?: number): SeparatorFramer {
  const name = (config.trim() || 'crlf').toLowerCase();
  const sep = NEWLINES[name as keyof typeof NEWLINES];
  if (!sep) throw new FramingConfigError(`newline: unknown newline '${config}' (crlf, lfcr, lf or cr)`);
  return new SeparatorFramer(Buffer.from(sep, 'latin1'), 'auto', maxSize, 'newline');
}
