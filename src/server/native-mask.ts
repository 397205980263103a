/**
 * Uses the optional native add-on `bufferutil` (the one \`ws\` uses) to unmask large payloads, when it
 * is installed: JavaScript unmasks at about a third of its speed. Without it, or with
 * WSBRIDGE_NO_NATIVE=1, the protocol core's pure JS loop does the work. Its `mask` also copies and
 * unmasks in one pass (used for messages that arrive in several reads).
 */
import { createRequire } from 'node:module';
import { setNativeMaskCopy, setNativeUnmask } from '../protocol/frame.js';

interface BufferUtil {
  unmask(buffer: Uint8Array, mask: Uint8Array): void;
  mask(source: Uint8Array, mask: Uint8Array, output: Uint8Array, offset: number, length: number): void;
}

/** True when the native unmask is in use. */
export let nativeMaskLoaded = false;

if (process.env.WSBRIDGE_NO_NATIVE !== '1') {
  try {
    const bufferUtil = createRequire(import.meta.url)('bufferutil') as BufferUtil;
    if (typeof bufferUtil.unmask === 'function') {
      setNativeUnmask((data, key) => bufferUtil.unmask(data, key));
      nativeMaskLoaded = true;
    }
    // Copy-and-unmask in one pass, for messages that arrive in several reads.
    if (typeof bufferUtil.mask === 'function') {
      setNativeMaskCopy((source, key, output, offset, length) =>
        bufferUtil.mask(source, key, output, offset, length),
      );
    }
  } catch {
    // not installed (it is optional): the JS loop is used
  }
}
