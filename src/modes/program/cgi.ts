/**
 * CGI/1.1 (RFC 3875) for plain HTTP requests: run a script with the request body on its stdin, read its
 * header block (`Status:`, `Location:`, `Content-Type:` and any other header), then stream the rest of its
 * stdout as the response body, with backpressure. Response rules follow Go's net/http/cgi, which
 * websocketd's `--cgidir` used: no header at all → 500; `Location` without `Status` → 302; neither
 * `Status` nor `Content-Type` nor `Location` → 500. A client that goes away gets the script killed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname } from 'node:path';

/** The script to run for one request (found, and its environment built, by the caller). */
export interface CgiScript {
  /** Path of the executable. */
  file: string;
  /** Its complete environment. */
  env: Readonly<Record<string, string>>;
  /** Working directory; default: the script's directory (as Go's CGI handler does). */
  cwd?: string;
}

export interface CgiOptions {
  /** Largest header block accepted from the script, bytes; past it: 502. Default 64 KiB. */
  maxHeaderSize?: number;
  /** Log lines: the script's stderr and failures. */
  log?: (message: string) => void;
}

const HEADER_END = /\r?\n\r?\n/;

function failed(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.end(`${text}\n`);
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

/** Parses a header block; applies it to `res`. Returns false (after answering) when it is unusable. */
function applyHeaders(block: string, res: ServerResponse, log: CgiOptions['log']): boolean {
  let status = 0;
  let location = false;
  let contentType = false;
  let count = 0;
  for (const line of block.split(/\r?\n/)) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) {
      log?.(`cgi: bogus header line: ${line}`);
      continue;
    }
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    count++;
    const lower = name.toLowerCase();
    if (lower === 'status') {
      const code = /^(\d{3})\b/.exec(value);
      if (!code || Number(code[1]) < 100) {
        log?.(`cgi: bogus status: ${value}`);
        failed(res, 500, '500 Internal Server Error');
        return false;
      }
      status = Number(code[1]);
      continue;
    }
    if (lower === 'location') location = true;
    if (lower === 'content-type') contentType = true;
    try {
      res.appendHeader(name, value);
    } catch {
      log?.(`cgi: header refused: ${name}`);
    }
  }
  if (count === 0) {
    log?.('cgi: no headers');
    failed(res, 500, '500 Internal Server Error');
    return false;
  }
  if (location && status === 0) status = 302;
  if (status === 0 && !contentType) {
    log?.('cgi: missing required Content-Type in headers');
    failed(res, 500, '500 Internal Server Error');
    return false;
  }
  res.statusCode = status || 200;
  return true;
}

/**
 * Runs `script` for the request and streams its answer. Resolves once the script has exited and the
 * response is finished (or the client is gone); never rejects.
 */
export function runCgi(
  req: IncomingMessage,
  res: ServerResponse,
  script: CgiScript,
  options: CgiOptions = {},
): Promise<void> {
  const log = options.log;
  const maxHeaderSize = options.maxHeaderSize ?? 64 * 1024;
  let child: ChildProcess;
  try {
    child = spawn(script.file, [], {
      env: script.env,
      cwd: script.cwd ?? dirname(script.file),
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
  } catch (error) {
    log?.(`cgi: cannot start ${script.file}: ${(error as Error).message}`);
    failed(res, 500, '500 Internal Server Error');
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const stdin = child.stdin!;
    const stdout = child.stdout!;
    const stderr = child.stderr!;
    /** Output so far while reading the header block; undefined once past it (or once failed). */
    let head: Buffer | undefined = Buffer.alloc(0);
    let failedAlready = false;
    let exited = false;
    let responded = false;
    const finishIfDone = (): void => {
      if (exited && responded) resolve();
    };
    stdin.on('error', () => undefined);
    stdout.on('error', () => undefined);
    let stderrRest = '';
    stderr.setEncoding('utf8');
    stderr.on('data', (text: string) => {
      const lines = (stderrRest + text).split('\n');
      stderrRest = lines.pop() ?? '';
      for (const line of lines) log?.(`cgi ${script.file} stderr: ${line}`);
    });
    stderr.on('end', () => {
      if (stderrRest) log?.(`cgi ${script.file} stderr: ${stderrRest}`);
    });
    child.once('error', (error: NodeJS.ErrnoException) => {
      log?.(`cgi: cannot start ${script.file}: ${error.code ?? error.message}`);
      failedAlready = true;
      head = undefined;
      failed(res, 500, '500 Internal Server Error');
      for (const stream of [stdin, stdout, stderr]) stream.destroy();
      exited = true;
      responded = true;
      finishIfDone();
    });
    child.once('close', () => {
      exited = true;
      if (head !== undefined) {
        // Output ended inside the header block: what was there is the header block, the body is empty.
        const block = head.toString('latin1');
        head = undefined;
        if (applyHeaders(block, res, log)) res.end();
      } else if (!res.writableEnded && !failedAlready) res.end();
      finishIfDone();
    });
    res.once('close', () => {
      responded = true;
      if (!res.writableFinished) killGroup(child); // the client went away mid-answer
      finishIfDone();
    });
    req.pipe(stdin);
    stdout.on('data', (chunk: Buffer) => {
      if (failedAlready) return;
      if (head === undefined) {
        if (!res.write(chunk)) stdout.pause();
        return;
      }
      head = Buffer.concat([head, chunk]);
      const text = head.toString('latin1');
      const end = HEADER_END.exec(text);
      if (!end) {
        if (head.length > maxHeaderSize) {
          log?.(`cgi: header block over ${maxHeaderSize} bytes`);
          head = undefined;
          failedAlready = true;
          failed(res, 502, '502 Bad Gateway');
          killGroup(child);
        }
        return;
      }
      const body = head.subarray(end.index + end[0].length);
      const block = text.slice(0, end.index);
      head = undefined;
      if (!applyHeaders(block, res, log)) {
        failedAlready = true;
        killGroup(child);
        return;
      }
      if (body.length > 0 && !res.write(body)) stdout.pause();
    });
    res.on('drain', () => stdout.resume());
  });
}
