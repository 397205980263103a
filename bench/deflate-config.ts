/**
 * permessage-deflate settings of the server children in the compressed scenarios (`deflate-*`), shared by
 * bench/server.ts (which applies them) and bench/deflate.ts (which prints them). Both implementations get
 * the same zlib settings, spelled out rather than left to each one's defaults (they are the same anyway:
 * level 6, memLevel 8, 15-bit window, threshold 1024, messages of at least 1024 bytes compressed).
 */

export const DEFLATE_LEVEL = 6;
export const DEFLATE_MEM_LEVEL = 8;
export const DEFLATE_THRESHOLD = 1024;

/** server.js argument: the server compresses every message from a fresh context (server_no_context_takeover). */
export const NO_CONTEXT_TAKEOVER_ARG = '--server-no-context-takeover';

export function isDeflateScenario(scenario: string): boolean {
  return scenario.startsWith('deflate-');
}

/** wsbridge's `perMessageDeflate` for a scenario; undefined outside the deflate scenarios (library default). */
export function wsbridgeDeflateOptions(scenario: string, argv: readonly string[]) {
  if (!isDeflateScenario(scenario)) return undefined;
  return {
    threshold: DEFLATE_THRESHOLD,
    level: DEFLATE_LEVEL,
    memLevel: DEFLATE_MEM_LEVEL,
    serverMaxWindowBits: 15,
    serverNoContextTakeover: argv.includes(NO_CONTEXT_TAKEOVER_ARG),
  };
}

/** ws's `perMessageDeflate` for a scenario: off outside the deflate scenarios (as before). */
export function wsDeflateOptions(scenario: string, argv: readonly string[]) {
  if (!isDeflateScenario(scenario)) return false as const;
  return {
    threshold: DEFLATE_THRESHOLD,
    zlibDeflateOptions: { level: DEFLATE_LEVEL, memLevel: DEFLATE_MEM_LEVEL },
    serverNoContextTakeover: argv.includes(NO_CONTEXT_TAKEOVER_ARG),
  };
}
