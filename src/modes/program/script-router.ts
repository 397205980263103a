/**
 * `--dir` (and `--cgidir`) routing: the URL path selects an executable inside a directory, websocketd's way.
 * Walking the decoded path a segment at a time, directories are entered until a file is found; that
 * file's URL path is `SCRIPT_NAME`, whatever follows is `PATH_INFO`. A path ending on a directory, a
 * missing file, or any `.`/`..`/empty segment before the script is not found, and so is a script whose real
 * path (symbolic links followed) lies outside the directory.
 */
import { realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeUrlPath, isInside, targetPath } from '../../server/safe-path.js';

/** A script selected by a URL path. */
export interface ScriptMatch {
  /** Real path of the file to run (inside the directory). */
  file: string;
  /** URL path of the script, e.g. `/chat/room.sh`. */
  scriptName: string;
  /** The rest of the decoded URL path after the script (`/a/b`), or '' when none. */
  pathInfo: string;
  /** The whole decoded URL path. */
  decodedPath: string;
}

export class ScriptRouter {
  private constructor(
    /** Real path of the directory. */
    readonly root: string,
  ) {}

  /** Opens a router over `dir`; rejects if it does not exist or is not a directory. */
  static async open(dir: string): Promise<ScriptRouter> {
    const root = await realpath(dir);
    if (!(await stat(root)).isDirectory()) throw new Error(`${dir} is not a directory`);
    return new ScriptRouter(root);
  }

  /**
   * The script a request target (`/path/script.sh/extra?query`) selects, or undefined (404). A target
   * with a malformed percent escape is undefined too.
   */
  async resolve(target: string): Promise<ScriptMatch | undefined> {
    const decodedPath = decodeUrlPath(targetPath(target));
    if (decodedPath === undefined) return undefined;
    const parts = decodedPath.slice(1).split('/');
    let relative = '';
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i];
      if (part === '' || part === '.' || part === '..' || part.includes('\0')) return undefined;
      relative = relative === '' ? part : `${relative}/${part}`;
      let info;
      try {
        info = await stat(join(this.root, relative));
      } catch {
        return undefined;
      }
      if (info.isDirectory()) continue; // a directory at the end falls out of the loop: not found
      if (!info.isFile()) return undefined;
      let file: string;
      try {
        file = await realpath(join(this.root, relative));
      } catch {
        return undefined;
      }
      if (!isInside(this.root, file)) return undefined;
      const rest = parts.slice(i + 1);
      return {
        file,
        scriptName: `/${relative}`,
        pathInfo: rest.length > 0 ? `/${rest.join('/')}` : '',
        decodedPath,
      };
    }
    return undefined;
  }
}
