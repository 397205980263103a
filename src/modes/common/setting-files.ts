/** Files and directories named by settings: read or checked at start, a UsageError naming the setting if not. */
import { readFileSync, statSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { UsageError } from './usage-error.js';

/** Reads a file a setting names (a PEM certificate, a CA list). */
export function readSettingFile(setting: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new UsageError(
      `cannot read ${setting} file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
}

/** The real path of a directory a setting names. */
export async function openSettingDir(setting: string, dir: string): Promise<string> {
  try {
    const real = await realpath(dir);
    if (!statSync(real).isDirectory()) throw new Error('not a directory');
    return real;
  } catch (error) {
    throw new UsageError(
      `cannot use ${setting}=${dir}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
}
