/**
 * Program mode's command line: Go-style flag parsing, websocketd's defaults and checks, how `wsbridge`
 * tells a websocketd command line from a gwsocket one, and the CLI's answers (help, version, exit 2).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { lookPath } from '../../src/modes/program/program-mode.js';
import { isProgramCommandLine } from '../../src/cli/pick-mode.js';
import { parseGoFlags, parseProgramCommandLine } from '../../src/modes/program/program-options.js';
import { UsageError } from '../../src/modes/common/usage-error.js';
import { fixture, runProgramCli } from '../helpers/program-harness.js';

describe('Go-style flags', () => {
  it('accepts -flag and --flag, =value and a separate value', () => {
    const { flags, rest } = parseGoFlags(['-port=8080', '--dir', '/srv', '-binary', '--maxforks', '3']);
    assert.deepEqual(flags.get('port'), ['8080']);
    assert.deepEqual(flags.get('dir'), ['/srv']);
    assert.deepEqual(flags.get('binary'), ['true']);
    assert.deepEqual(flags.get('maxforks'), ['3']);
    assert.deepEqual(rest, []);
  });

  it('stops at the first argument that is not a flag: the rest is COMMAND ARGS', () => {
    const { flags, rest } = parseGoFlags(['--port=1', './count.sh', '--binary', '-x']);
    assert.deepEqual(flags.get('port'), ['1']);
    assert.equal(flags.has('binary'), false);
    assert.deepEqual(rest, ['./count.sh', '--binary', '-x']);
  });

  it('stops after --, which is consumed', () => {
    assert.deepEqual(parseGoFlags(['--port=1', '--', '-weird-name', 'a']).rest, ['-weird-name', 'a']);
  });

  it('booleans take a value only with =; a lone - is an argument', () => {
    assert.deepEqual(parseGoFlags(['--binary=false']).flags.get('binary'), ['false']);
    assert.deepEqual(parseGoFlags(['--binary=1']).flags.get('binary'), ['true']);
    assert.deepEqual(parseGoFlags(['--binary', 'false']).rest, ['false']);
    assert.deepEqual(parseGoFlags(['-', 'x']).rest, ['-', 'x']);
  });

  it('repeatable flags accumulate, others keep the last value', () => {
    const { flags } = parseGoFlags([
      '--address=a',
      '--address',
      'b',
      '--port=1',
      '--port=2',
      '--header=A: 1',
      '--header=B: 2',
    ]);
    assert.deepEqual(flags.get('address'), ['a', 'b']);
    assert.deepEqual(flags.get('port'), ['2']);
    assert.deepEqual(flags.get('header'), ['A: 1', 'B: 2']);
  });

  it('names the problem: unknown flag, missing value, bad boolean, bad syntax', () => {
    assert.throws(() => parseGoFlags(['--bogus']), { name: 'UsageError', message: /unknown flag --bogus/ });
    assert.throws(() => parseGoFlags(['--port']), {
      name: 'UsageError',
      message: /needs an argument: -port/,
    });
    assert.throws(() => parseGoFlags(['--ssl=maybe']), { name: 'UsageError', message: /maybe/ });
    assert.throws(() => parseGoFlags(['---port=1']), { name: 'UsageError', message: /bad flag syntax/ });
  });
});

describe('websocketd configuration', () => {
  it("has websocketd 0.5.0's defaults", () => {
    const c = parseProgramCommandLine(['./count.sh', 'a', 'b']);
    assert.equal(c.mode, 'run');
    assert.equal(c.port, 80);
    assert.deepEqual(c.addresses, []);
    assert.equal(c.tcp, true);
    assert.equal(c.command, './count.sh');
    assert.deepEqual(c.args, ['a', 'b']);
    assert.equal(c.maxForks, 1024);
    assert.equal(c.maxFrameSize, 1024 * 1024);
    assert.equal(c.closeMs, 0);
    assert.equal(c.pingMs, 0);
    assert.equal(c.binary, false);
    assert.deepEqual(
      c.passEnv,
      process.platform === 'darwin' ? ['PATH', 'DYLD_LIBRARY_PATH'] : ['PATH', 'LD_LIBRARY_PATH'],
    );
    assert.equal(c.logLevel, 'info'); // websocketd's default "access"
  });

  it('--ssl makes the default port 443 and needs a certificate and key', () => {
    assert.equal(parseProgramCommandLine(['--ssl', '--sslcert=c', '--sslkey=k', 'cat']).port, 443);
    assert.throws(() => parseProgramCommandLine(['--ssl', 'cat']), /--ssl needs both/);
    assert.throws(() => parseProgramCommandLine(['--sslcert=c', '--sslkey=k', 'cat']), /need --ssl/);
  });

  it('reads lists, headers, addresses and log levels', () => {
    const c = parseProgramCommandLine([
      '--origin=a.example, b.example:8080',
      '--passenv=PATH,HOME',
      '--address=127.0.0.1',
      '--address=[::1]',
      '--header=X-A: 1',
      '--header-ws=Sec-WebSocket-Protocol: chat',
      '--header-http=Cache-Control: no-store',
      '--loglevel=trace',
      'cat',
    ]);
    assert.deepEqual(c.origins, ['a.example', 'b.example:8080']);
    assert.deepEqual(c.passEnv, ['PATH', 'HOME']);
    assert.deepEqual(c.addresses, ['127.0.0.1', '::1']);
    assert.deepEqual(c.headers, [['X-A', '1']]);
    assert.deepEqual(c.wsHeaders, [['Sec-WebSocket-Protocol', 'chat']]);
    assert.deepEqual(c.httpHeaders, [['Cache-Control', 'no-store']]);
    assert.equal(c.logLevel, 'debug');
    assert.equal(parseProgramCommandLine(['--loglevel=fatal', 'cat']).logLevel, 'error');
    assert.equal(parseProgramCommandLine(['--passenv=', 'cat']).passEnv.length, 0);
  });

  it('--unixsocket alone opens no TCP listener; with --port or --address it does', () => {
    assert.equal(parseProgramCommandLine(['--unixsocket=/tmp/s', 'cat']).tcp, false);
    assert.equal(parseProgramCommandLine(['--unixsocket=/tmp/s', '--port=1', 'cat']).tcp, true);
  });

  it('refuses contradictory or incomplete command lines', () => {
    const refused = (argv: string[], pattern: RegExp): void =>
      assert.throws(
        () => parseProgramCommandLine(argv),
        (e: Error) => e instanceof UsageError && pattern.test(e.message),
      );
    refused(['--port=1'], /COMMAND/);
    refused(['--dir=/tmp', 'cat'], /both COMMAND/);
    refused(['--devconsole', '--staticdir=/tmp', 'cat'], /--devconsole/);
    refused(['--binary', '--passstderr', 'cat'], /--passstderr/);
    refused(['--port=65536', 'cat'], /port/);
    refused(['--port=abc', 'cat'], /abc/);
    refused(['--maxforks=-1', 'cat'], /maxforks/);
    refused(['--header=novalue', 'cat'], /Name: value/);
    refused(['--loglevel=loud', 'cat'], /loglevel/);
    refused(['--redirport=80', 'cat'], /redirport/);
  });

  it('--help, --version and --license need no command', () => {
    assert.equal(parseProgramCommandLine(['--help']).mode, 'help');
    assert.equal(parseProgramCommandLine(['-h']).mode, 'help');
    assert.equal(parseProgramCommandLine(['--version']).mode, 'version');
    assert.equal(parseProgramCommandLine(['--license']).mode, 'license');
  });

  it('--staticdir or --cgidir alone is a valid HTTP-only server', () => {
    assert.equal(parseProgramCommandLine(['--staticdir=/tmp']).command, undefined);
    assert.equal(parseProgramCommandLine(['--cgidir=/tmp']).staticDir, undefined);
  });
});

describe('telling websocketd command lines from gwsocket ones', () => {
  it('a positional COMMAND, --, a websocketd-only flag or a single-dash long flag: program mode', () => {
    for (const argv of [
      ['./count.sh'],
      ['--port=8080', './count.sh'],
      ['--port', '8080', './count.sh'],
      ['-p', '8080', 'cat'],
      ['--', 'cat'],
      ['--dir=/srv'],
      ['--staticdir', '/srv'],
      ['--devconsole'],
      ['--binary'],
      ['--maxforks=3'],
      ['--passenv=PATH'],
      ['--header-ws=A: b'],
      ['--sameorigin'],
      ['--loglevel=debug'],
      ['--unixsocket=/tmp/x'],
      ['-port=8080'],
      ['-dir', '/srv'],
      ['--origin', 'http://a', 'cat'],
      ['--help', 'websocketd'],
    ])
      assert.equal(isProgramCommandLine(argv), true, argv.join(' '));
  });

  it("gwsocket's own command lines stay gwsocket's, values of its flags included", () => {
    for (const argv of [
      [],
      ['--echo-mode'],
      ['-p', '7890'],
      ['--port', '7890', '--addr', '0.0.0.0'],
      ['--pipein', '/tmp/in', '--pipeout', '/tmp/out'],
      ['--std', '--strict'],
      ['--origin', 'http://a'],
      ['--help'],
      ['-h'],
      ['--version'],
      ['-V'],
      ['--log-level', 'debug', '-q'],
      ['--echo-mode', 'extra'], // a gwsocket-only flag: its parser refuses the stray argument
      ['--access-log', 'file.log', '--unix-socket', '/tmp/s'],
    ])
      assert.equal(isProgramCommandLine(argv), false, argv.join(' '));
  });
});

describe('finding COMMAND as Go does', () => {
  it('a name without a slash is searched in PATH; with a slash it must be an executable file', () => {
    assert.equal(lookPath('sh', '/nonexistent:/bin:/usr/bin')?.endsWith('/sh'), true);
    assert.equal(lookPath('no-such-program-here', '/bin:/usr/bin'), undefined);
    assert.equal(lookPath(fixture('count.sh')), fixture('count.sh'));
    assert.equal(lookPath(fixture('no-such.sh')), undefined);
    assert.equal(lookPath('/tmp'), undefined); // a directory
  });
});

describe('the CLI in program mode', { concurrency: true }, () => {
  it('--help prints the program-mode usage and exits 0; gwsocket --help points to it', async () => {
    const program = await runProgramCli(['--help', 'websocketd']);
    assert.equal(program.code, 0);
    assert.match(program.stdout, /^Usage: wsbridge \[websocketd options\] COMMAND \[ARGS\.\.\.\]/);
    assert.match(program.stdout, /--maxforks=N/);
    const gwsocket = await runProgramCli(['--help']);
    assert.equal(gwsocket.code, 0);
    assert.match(gwsocket.stdout, /wsbridge \[websocketd options\] COMMAND \.\.\. +wsbridge --help program/);
  });

  it('--version names wsbridge', async () => {
    const result = await runProgramCli(['--version', 'cat']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^wsbridge \d+\.\d+\.\d+/);
  });

  it('a bad flag, a missing command or an unknown COMMAND: exit 2 with one line', async () => {
    for (const [argv, pattern] of [
      [['--binary', '--bogus', 'cat'], /-bogus/],
      [['--port=x', 'cat'], /'x'/],
      [['--binary'], /COMMAND/],
      [['--port=0', 'no-such-command-anywhere'], /cannot find COMMAND 'no-such-command-anywhere' in PATH/],
      [['--port=0', './no/such/file.sh'], /not an executable file/],
      [['--port=0', '--dir=/no/such/dir'], /--dir/],
    ] as const) {
      const result = await runProgramCli(argv);
      assert.equal(result.code, 2, `${argv.join(' ')}: ${result.stderr}`);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
      assert.match(result.stderr, pattern);
    }
  });

  it('a gwsocket line with a stray argument is still refused by the gwsocket parser', async () => {
    const result = await runProgramCli(['--echo-mode', 'extra']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /extra/);
  });
});
