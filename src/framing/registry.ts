/**
 * `--framing=NAME --framing-config=CONFIG`: websocksy's framing vocabulary, by name, to a factory of
 * framers (one per connection: framers keep state).
 */
import { ChunkFramer } from './auto.js';
import { DEFAULT_MAX_FRAME, FramingConfigError, type Framer } from './framer.js';
import { fixedLengthFramer } from './fixed-length.js';
import { JsonFramer } from './json.js';
import { lengthPrefixFramer } from './length-prefix.js';
import { newlineFramer } from './newline.js';
import { separatorFramer } from './separator.js';

export type FramingName = 'auto' | 'binary' | 'separator' | 'newline' | 'fixedlength' | 'dynamic32' | 'json';

type Build = (config: string, maxSize: number) => Framer;

const FRAMERS: Record<FramingName, Build> = {
  auto: (_config, max) => new ChunkFramer('auto', max),
  binary: (_config, max) => new ChunkFramer('binary', max),
  separator: separatorFramer,
  newline: newlineFramer,
  fixedlength: fixedLengthFramer,
  dynamic32: lengthPrefixFramer,
  json: (_config, max) => new JsonFramer(max),
};

export const FRAMING_NAMES = Object.keys(FRAMERS) as FramingName[];

/** A checked framing choice: `create()` makes a fresh framer for one connection. */
export interface FramingSpec {
  name: FramingName;
  config: string;
  maxSize: number;
  create(): Framer;
}

/**
 * Checks a framing name and its config (by building one framer), and returns a factory.
 * Throws FramingConfigError with a one-line reason.
 */
export function framingSpec(name: string, config = '', maxSize = DEFAULT_MAX_FRAME): FramingSpec {
  const key = name.trim().toLowerCase() as FramingName;
  const build = FRAMERS[key];
  if (!Object.hasOwn(FRAMERS, key))
    throw new FramingConfigError(`unknown framing '${name}' (one of: ${FRAMING_NAMES.join(', ')})`);
  if ((key === 'auto' || key === 'binary' || key === 'json') && config.trim() !== '')
    throw new FramingConfigError(`framing ${key} takes no --framing-config (got '${config}')`);
  build(config, maxSize); // throws on a bad config, now rather than per connection
  return { name: key, config, maxSize, create: () => build(config, maxSize) };
}
