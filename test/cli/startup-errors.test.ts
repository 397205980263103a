/**
 * Start-up failures after the command line parsed: the address cannot be listened on, a config file is
 * not UTF-8 or has a misspelt key. Each must be one stderr line naming the flag (or FILE:LINE and key)
 * and the fix, with exit status 2, in every mode.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, tempDir } from '../helpers/peers.js';

/** Asserts exit 2 and exactly one stderr line matching `pattern`. */
async function failsWith(args: string[], pattern: RegExp): Promise<void> {
  const result = await runCli(args);
  const lines = result.stderr.split('\n').filter((line) => line !== '');
  assert.equal(result.code, 2, `exit code for ${args.join(' ')}: ${result.stderr}`);
  assert.equal(lines.length, 1, `stderr for ${args.join(' ')} should be one line, got:\n${result.stderr}`);
  assert.match(lines[0]!, /^wsbridge: /);
  assert.match(lines[0]!, pattern);
}

describe('listen failures: one line naming the flag, exit 2', { concurrency: true }, () => {
  let busy: Server;
  let port = 0;
  let dir: ReturnType<typeof tempDir>;
  before(async () => {
    dir = tempDir('wsb-startup-');
    busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    port = (busy.address() as { port: number }).port;
  });
  after(() => {
    busy.close();
    dir.cleanup();
  });
  const toml = (name: string, server: string): string => {
    const file = join(dir.path, name);
    writeFileSync(file, `[server]\n${server}\n\n[[route]]\npath = "/"\ntype = "echo"\n`);
    return file;
  };

  it('pipe/echo mode: port in use', async () => {
    await failsWith(
      ['--echo-mode', '--addr=127.0.0.1', `--port=${port}`],
      new RegExp(`--port ${port}: address already in use \\(.*pick another --port\\)`),
    );
  });
  it('echo mode: an address that is not an IP nor a known host', async () => {
    await failsWith(['--echo-mode', '--addr=999.1.1.1', '--port=0'], /--addr 999\.1\.1\.1: .*address/);
  });
  it('echo mode: an address this machine does not have', async () => {
    await failsWith(
      ['--echo-mode', '--addr=192.0.2.1', '--port=0'],
      /--addr 192\.0\.2\.1: not an address of this machine/,
    );
  });
  it('echo mode: a Unix socket in a missing directory', async () => {
    await failsWith(
      ['--echo-mode', '--unix-socket=/missing/dir/s.sock'],
      /--unix-socket \/missing\/dir\/s\.sock: directory \/missing\/dir does not exist/,
    );
  });
  it('program mode: port in use, in websocketd spelling', async () => {
    await failsWith(
      [`--port=${port}`, '--address=127.0.0.1', 'cat'],
      new RegExp(`--port ${port}: address already in use`),
    );
  });
  it('program mode: a Unix socket in a missing directory', async () => {
    await failsWith(
      ['--unixsocket=/missing/dir/s.sock', 'cat'],
      /--unixsocket \/missing\/dir\/s\.sock: directory/,
    );
  });
  it('socket mode: port in use', async () => {
    await failsWith(
      ['--peer=tcp://127.0.0.1:9', '--addr=127.0.0.1', `--port=${port}`],
      new RegExp(`--port ${port}: address already in use`),
    );
  });
  it('config file: port in use names the file, line and key', async () => {
    const file = toml('busy.toml', `addr = "127.0.0.1"\nport = ${port}`);
    await failsWith(
      [`--config=${file}`],
      new RegExp(`busy\\.toml:3: .*port ${port}: address already in use`),
    );
  });
  it('config file: bad addr names its line', async () => {
    const file = toml('addr.toml', `addr = "999.1.1.1"\nport = 0`);
    await failsWith([`--config=${file}`], /addr\.toml:2: .*addr 999\.1\.1\.1: /);
  });
});

describe('an access log that cannot be opened', () => {
  it('is reported once, exit 2', async () => {
    await failsWith(
      ['--echo-mode', '--port=0', '--addr=127.0.0.1', '--access-log=/missing/dir/access.log'],
      /cannot open --access-log file: .*\/missing\/dir\/access\.log/,
    );
  });
});

describe('config files', { concurrency: true }, () => {
  let dir: ReturnType<typeof tempDir>;
  before(() => {
    dir = tempDir('wsb-config-errors-');
  });
  after(() => dir.cleanup());
  const write = (name: string, text: string | Buffer): string => {
    const file = join(dir.path, name);
    writeFileSync(file, text);
    return file;
  };

  it('refuses invalid UTF-8 at load, with the line of the first bad byte', async () => {
    const file = write(
      'latin1.toml',
      Buffer.concat([
        Buffer.from('[server]\nport = 0\n\n[[route]]\npath = "/caf'),
        Buffer.from([0xe9]), // "é" in Latin-1
        Buffer.from('"\ntype = "echo"\n'),
      ]),
    );
    await failsWith([`--config=${file}`], /latin1\.toml:5: not valid UTF-8/);
  });

  it('a misspelt key is reported as unknown, with the close name, before a missing type', async () => {
    const file = write('tpye.toml', '[server]\nport = 0\n\n[[route]]\npath = "/"\ntpye = "echo"\n');
    await failsWith(
      [`--config=${file}`],
      /tpye\.toml:6: route \/: unknown key 'tpye' \(did you mean 'type'\?\)/,
    );
  });
  it('a command string with arguments in it: says to write an array', async () => {
    const file = write(
      'command.toml',
      '[server]\nport = 0\n\n[[route]]\npath = "/"\ntype = "program"\ncommand = "./count.sh 5"\n',
    );
    await failsWith(
      [`--config=${file}`],
      /command\.toml:7: .*use an array: command = \["\.\/count\.sh", "5"\]/,
    );
  });
});
