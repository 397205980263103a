import { readFileSync } from 'node:fs';

/** The version in package.json (dist/src/modes/common/ → the package root). */
export function packageVersion(): string {
  const url = new URL('../../../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
}
