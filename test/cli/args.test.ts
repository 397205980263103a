/**
 * The `wsbridge` command line: flags that answer and exit, and every way a bad command line fails
 * (exit status 2 and exactly one line on stderr naming the problem).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, runCli, tempDir } from '../helpers/peers.js';

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };

/** Asserts exit 2, nothing on stdout, and exactly one stderr line matching `pattern`. */
async function failsWithUsage(args: string[], pattern: RegExp): Promise<void> {
  const result = await runCli(args);
  assert.equal(result.code, 2, `exit code for ${args.join(' ')}: ${result.stderr}`);
  assert.equal(result.stdout, '');
  const lines = result.stderr.split('\n').filter((line) => line !== '');
  assert.equal(lines.length, 1, `stderr for ${args.join(' ')} should be one line, got:\n${result.stderr}`);
  assert.ok(result.stderr.endsWith('\n'), 'the line ends with a newline');
  assert.match(lines[0]!, /^wsbridge: /);
  assert.match(lines[0]!, pattern);
}

describe('wsbridge --help and --version', { concurrency: true }, () => {
  it('--help prints the usage with every flag on stdout and exits 0', async () => {
    const result = await runCli(['--help']);
    assert.equal(result.code, 0);
    assert.equal(result.stderr, '');
    assert.match(result.stdout, /^Usage: wsbridge \[options\]/);
    for (const flag of [
      '--echo-mode',
      '-p, --port=PORT',
      '--addr=ADDR',
      '--unix-socket=PATH',
      '--ssl-cert=FILE',
      '--ssl-key=FILE',
      '--origin=ORIGIN',
      '--max-frame-size=N',
      '--ping-interval=MS',
      '--max-connections=N',
      '--protocol=NAME',
      '--deflate=on|off',
      '--access-log=FILE',
      '--log-level=LEVEL',
      '-q, --quiet',
      '-h, --help',
      '-V, --version',
    ])
      assert.ok(result.stdout.includes(flag), `--help does not mention ${flag}`);
  });

  it('-h is the same as --help, and wins over a mode', async () => {
    const short = await runCli(['-h']);
    const long = await runCli(['--help']);
    assert.equal(short.code, 0);
    assert.equal(short.stdout, long.stdout);
    const withMode = await runCli(['--echo-mode', '--help']);
    assert.equal(withMode.code, 0);
    assert.equal(withMode.stdout, long.stdout);
  });

  it('--version and -V print "wsbridge <package.json version>" and exit 0', async () => {
    assert.equal(pkg.version, '0.1.0');
    for (const flag of ['--version', '-V']) {
      const result = await runCli([flag]);
      assert.equal(result.code, 0, flag);
      assert.equal(result.stdout, 'wsbridge 0.1.0\n', flag);
      assert.equal(result.stderr, '', flag);
    }
  });
});

describe('wsbridge usage errors: exit 2, one stderr line', { concurrency: true }, () => {
  it('an unknown flag is named', async () => {
    await failsWithUsage(['--echo-mode', '--bogus'], /--bogus/);
    await failsWithUsage(['-x'], /-x/);
  });

  it('a positional argument is refused', async () => {
    await failsWithUsage(['--echo-mode', 'extra'], /extra/);
  });

  it('a flag that needs a value but has none', async () => {
    await failsWithUsage(['--echo-mode', '--port'], /port/);
  });

  it('a bad port value: not a number, empty, negative, too large', async () => {
    await failsWithUsage(['--echo-mode', '-p', 'abc'], /--port.*abc/);
    await failsWithUsage(['--echo-mode', '--port='], /--port/);
    await failsWithUsage(['--echo-mode', '--port=-1'], /--port/);
    await failsWithUsage(['--echo-mode', '--port=65536'], /--port.*65536/);
    await failsWithUsage(['--echo-mode', '--port=80.5'], /--port/);
  });

  it('bad numeric limits', async () => {
    await failsWithUsage(['--echo-mode', '--max-frame-size=0'], /--max-frame-size/);
    await failsWithUsage(['--echo-mode', '--max-frame-size=1k'], /--max-frame-size.*1k/);
    await failsWithUsage(['--echo-mode', '--ping-interval=soon'], /--ping-interval/);
    await failsWithUsage(['--echo-mode', '--max-connections=0'], /--max-connections/);
  });

  it('a bad log level', async () => {
    await failsWithUsage(['--echo-mode', '--log-level=verbose'], /--log-level.*verbose/);
  });

  it('--ssl-cert without --ssl-key, and the reverse', async () => {
    await failsWithUsage(['--echo-mode', '--ssl-cert=cert.pem'], /--ssl-cert and --ssl-key/);
    await failsWithUsage(['--echo-mode', '--ssl-key=key.pem'], /--ssl-cert and --ssl-key/);
  });

  it('bad values for the newer flags: --protocol, --deflate, --framing, --slow-client', async () => {
    await failsWithUsage(['--echo-mode', '--protocol=bad name'], /--protocol.*bad name/);
    await failsWithUsage(['--echo-mode', '--deflate=maybe'], /--deflate.*maybe/);
    await failsWithUsage(['--echo-mode', '--deflate-level=10'], /--deflate-level/);
    await failsWithUsage(['--framing=words'], /--framing.*words/);
    await failsWithUsage(['--slow-client=ignore'], /--slow-client.*ignore/);
  });

  it('an unreadable certificate or key file is named (missing file, directory)', async () => {
    const dir = tempDir();
    try {
      const missing = join(dir.path, 'missing-cert.pem');
      await failsWithUsage(
        ['--echo-mode', '-p', '0', `--ssl-cert=${missing}`, `--ssl-key=${missing}`],
        new RegExp(`--ssl-cert.*${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*ENOENT`),
      );
      await failsWithUsage(
        ['--echo-mode', '-p', '0', `--ssl-cert=${dir.path}`, `--ssl-key=${dir.path}`],
        /--ssl-cert.*EISDIR/,
      );
    } finally {
      dir.cleanup();
    }
  });
});
