/**
 * node:util parseArgs with its errors rewritten as wsbridge's own one-line messages: Node's texts are
 * several lines and talk about positionals, so none of them reaches the user.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { unknownFlag, type FlagMode } from './unknown-flag.js';
import { UsageError } from './usage-error.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** The flag a parseArgs message is about, in its long form (`'-p, --port <value>'` → `--port`). */
function flagIn(message: string): string {
  const quoted = /'([^']*)'/.exec(message)?.[1] ?? '';
  const long = /--[^\s<=]+/.exec(quoted)?.[0];
  return long ?? quoted.split(/[\s=]/)[0];
}

export function parseFlags<O extends Options>(
  argv: readonly string[],
  options: O,
  mode: FlagMode,
  allowPositionals: boolean,
): ReturnType<typeof parseArgs<{ options: O; strict: true; allowPositionals: boolean }>> {
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals });
  } catch (error) {
    const { code, message } = error as Error & { code?: string };
    const flag = flagIn(message);
    switch (code) {
      case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
        throw unknownFlag(flag, mode);
      case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
        throw new UsageError(`unexpected argument '${flag}'`);
      case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
        if (/does not take an argument/.test(message)) throw new UsageError(`${flag} takes no value`);
        if (/ambiguous/.test(message))
          throw new UsageError(`${flag} needs a value (one starting with '-' is written ${flag}=-VALUE)`);
        throw new UsageError(`${flag} needs a value`);
      default:
        throw new UsageError(`bad command line: ${message.split('\n')[0]}`);
    }
  }
}
