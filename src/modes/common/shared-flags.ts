/**
 * The server flags pipe/echo and socket modes share (compression, access log), parsed by one function
 * so each means the same in every mode.
 */
import { integerFlag } from './flag-values.js';
import { UsageError } from './usage-error.js';

export const SHARED_SERVER_FLAGS = {
  'access-log': { type: 'string' },
  deflate: { type: 'string' },
  'deflate-threshold': { type: 'string' },
  'deflate-level': { type: 'string' },
  'deflate-mem-level': { type: 'string' },
  'deflate-window-bits': { type: 'string' },
  'deflate-no-context-takeover': { type: 'boolean' },
} as const;

/** permessage-deflate settings, or false when turned off. */
export type DeflateSetting =
  | false
  | {
      threshold: number;
      level: number;
      memLevel: number;
      serverMaxWindowBits: number;
      serverNoContextTakeover: boolean;
    };

type Values = Partial<Record<keyof typeof SHARED_SERVER_FLAGS, string | boolean | string[]>>;

/** `--deflate=on|off` and its tuning flags. */
export function deflateSetting(values: Values): DeflateSetting {
  const str = (name: keyof typeof SHARED_SERVER_FLAGS): string | undefined =>
    values[name] as string | undefined;
  const onOff = str('deflate') ?? 'on';
  if (onOff !== 'on' && onOff !== 'off') throw new UsageError(`--deflate must be on or off, got '${onOff}'`);
  if (onOff === 'off') return false;
  return {
    threshold: integerFlag('--deflate-threshold', str('deflate-threshold'), 1024, 0, 2 ** 32),
    level: integerFlag('--deflate-level', str('deflate-level'), 6, 0, 9),
    memLevel: integerFlag('--deflate-mem-level', str('deflate-mem-level'), 8, 1, 9),
    serverMaxWindowBits: integerFlag('--deflate-window-bits', str('deflate-window-bits'), 15, 9, 15),
    serverNoContextTakeover: values['deflate-no-context-takeover'] === true,
  };
}
