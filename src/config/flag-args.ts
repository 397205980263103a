/**
 * Config values → command-line arguments, so that a config key means exactly what the flag of the same
 * name means: each mode's own flag parser checks the result. A value of the wrong TOML type is refused
 * here, naming the key.
 */

/** How a flag takes its value. */
export type FlagShape = 'boolean' | 'string' | 'strings' | 'go-bool' | 'go-value' | 'go-list';

export class KeyTypeError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`${key}: ${message}`);
    this.name = 'KeyTypeError';
  }
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date) return 'a date';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'a table';
  if (typeof value === 'number' && !Number.isInteger(value)) return `the number ${value}`;
  return typeof value === 'string' ? `the string '${value}'` : `${typeof value} ${String(value)}`;
}

/** One scalar as a flag value: strings and integers only. */
function scalar(key: string, value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isInteger(value)) return String(value);
  if (typeof value === 'bigint') return String(value);
  throw new KeyTypeError(key, `expected a string or an integer, not ${describe(value)}`);
}

/** The arguments for `key = value`, for a flag of this shape (`--key=value`, repeated for lists). */
export function flagArgs(key: string, value: unknown, shape: FlagShape): string[] {
  switch (shape) {
    case 'boolean':
      if (typeof value !== 'boolean')
        throw new KeyTypeError(key, `expected true or false, not ${describe(value)}`);
      return value ? [`--${key}`] : [];
    case 'go-bool':
      if (typeof value !== 'boolean')
        throw new KeyTypeError(key, `expected true or false, not ${describe(value)}`);
      return [`--${key}=${value}`];
    case 'string':
    case 'go-value':
      if (Array.isArray(value)) throw new KeyTypeError(key, 'takes one value, not an array');
      return [`--${key}=${scalar(key, value)}`];
    case 'strings':
    case 'go-list':
      return (Array.isArray(value) ? value : [value]).map((item) => `--${key}=${scalar(key, item)}`);
  }
}

/** Shapes of a node:util parseArgs option spec. */
export function parseArgsShapes(
  spec: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>,
): Record<string, FlagShape> {
  return Object.fromEntries(
    Object.entries(spec).map(([name, option]) => [
      name,
      option.type === 'boolean' ? 'boolean' : option.multiple ? 'strings' : 'string',
    ]),
  );
}
