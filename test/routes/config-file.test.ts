/**
 * The config file, checked without starting anything: what a valid file becomes, and for each kind of
 * mistake the exact `file:line: problem` the server stops with. Plus the rule that every command-line
 * flag has a config key of the same name (or a documented equivalent).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { accessSync, constants, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { optionSpec } from '../../src/modes/pipe/pipe-options.js';
import { PROGRAM_FLAGS } from '../../src/modes/program/program-options.js';
import { SOCKET_FLAGS } from '../../src/modes/socket/socket-mode.js';
import { ConfigError } from '../../src/config/config-error.js';
import { KeyLines } from '../../src/config/key-lines.js';
import {
  loadWsbridgeConfig,
  EXTRA_SERVER_KEYS,
  ROUTE_KEYS,
  SERVER_KEYS,
  WEBSOCKETD_SERVER_KEYS,
  type RouteType,
} from '../../src/config/wsbridge-config.js';
import { REPO_ROOT, runCli, tempDir } from '../helpers/peers.js';

const load = (source: string): ReturnType<typeof loadWsbridgeConfig> =>
  loadWsbridgeConfig('test.toml', source);

/** The error a source gives, as `line: problem`. */
function failure(source: string): string {
  try {
    load(source);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return `${error.line ?? '-'}: ${error.problem}`;
  }
  assert.fail(`no error for:\n${source}`);
}

const ECHO = '[[route]]\npath = "/"\ntype = "echo"\n';

describe('a valid config file', () => {
  it('gives the server settings and every route, in order, with what its keys mean', () => {
    const config = load(`# comment
[server]
port = 9000
addr = "127.0.0.1"
origin = ["https://a.example", "https://b.example"]
max-frame-size = 65536
ping-interval = 0
deflate = false

[[route]]
path = "/echo"
type = "echo"
protocol = ["chat", "superchat"]
max-frame-size = 100

[[route]]
prefix = "/files/"
type = "static"
staticdir = "/srv/www"

[[route]]
path = "/feed"
type = "pipe"
pipein = "/tmp/a.in"
pipeout = "/tmp/a.out"
strict = true
backlog = 5

[[route]]
path = "/tcp"
type = "socket"
peer = "tcp://[::1]:7000"
framing = "newline"
framing-config = "lf"
require-protocol = true

[[route]]
prefix = "/"
type = "program"
command = ["cat", "-n"]
binary = true
header-ws = ["X-A: 1", "X-B: 2"]

[[route]]
path = "/pick"
type = "socket"
backend = "file"
backend-config = { path = "/etc/peers", expression = ["%endpoint%", "default"] }
`);
    const { server, routes } = config;
    assert.equal(server.port, 9000);
    assert.equal(server.host, '127.0.0.1');
    assert.deepEqual(server.origins, ['https://a.example', 'https://b.example']);
    assert.equal(server.maxMessageSize, 65536);
    assert.equal(server.pingInterval, 0);
    assert.equal(server.deflate, false);
    assert.deepEqual(
      routes.map((r) => [r.type, r.match, r.line]),
      [
        ['echo', { exact: '/echo' }, 10],
        ['static', { prefix: '/files' }, 16],
        ['pipe', { exact: '/feed' }, 21],
        ['socket', { exact: '/tcp' }, 29],
        ['program', { prefix: '/' }, 37],
        ['socket', { exact: '/pick' }, 44],
      ],
    );
    const [echo, files, feed, tcp, program, pick] = routes;
    assert.deepEqual(echo.protocols, ['chat', 'superchat']);
    assert.equal(echo.maxMessageSize, 100);
    assert.equal(files.program?.staticDir, '/srv/www');
    assert.equal(files.maxMessageSize, undefined, 'no own limit: the server one applies');
    assert.equal(feed.pipe?.pipeIn, '/tmp/a.in');
    assert.equal(feed.pipe?.pipeOut, '/tmp/a.out');
    assert.equal(feed.pipe?.strict, true);
    assert.equal(feed.pipe?.backlog, 5);
    assert.deepEqual(tcp.socket?.peer, { scheme: 'tcp', host: '::1', port: 7000 });
    assert.equal(tcp.socket?.framing.name, 'newline');
    assert.equal(tcp.socket?.requireProtocol, true);
    assert.equal(program.program?.command, 'cat');
    assert.deepEqual(program.program?.args, ['-n']);
    assert.equal(program.program?.binary, true);
    assert.deepEqual(program.program?.wsHeaders, [
      ['X-A', '1'],
      ['X-B', '2'],
    ]);
    assert.equal(pick.socket?.backend, 'file');
    assert.deepEqual(pick.socket?.backendConfig, [
      ['path', '/etc/peers'],
      ['expression', '%endpoint%'],
      ['expression', 'default'],
    ]);
  });

  it("the README's example is a valid config file", () => {
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### Routes: one server, many endpoints'));
    const example = /```toml\n([\s\S]*?)```/.exec(section)?.[1];
    assert.ok(example, 'the Routes section has a TOML example');
    const { server, routes } = load(example);
    assert.equal(server.port, 8080);
    assert.deepEqual(
      routes.map((r) => r.type),
      ['static', 'echo', 'pipe', 'program', 'program', 'socket', 'socket'],
    );
  });

  it("takes relative paths from the config file's directory, not the working directory", () => {
    const config = loadWsbridgeConfig(
      '/etc/wsbridge/site.toml',
      `[server]\nssl-cert = "tls/cert.pem"\nssl-key = "/abs/key.pem"\naccess-log = "../log/access.log"\n` +
        `[[route]]\nprefix = "/"\ntype = "static"\nstaticdir = "public"\n` +
        `[[route]]\npath = "/a"\ntype = "program"\ncommand = ["./bin/run.sh", "x/y"]\n` +
        `[[route]]\npath = "/b"\ntype = "program"\ncommand = "cat"\ncgidir = "cgi"\n` +
        `[[route]]\npath = "/p"\ntype = "pipe"\npipein = "run/in.fifo"\npipeout = "/tmp/out.fifo"\n` +
        `[[route]]\npath = "/f"\ntype = "socket"\nbackend = "file"\nbackend-config = ["path=peers", "expression=%endpoint%"]\n` +
        `[[route]]\npath = "/m"\ntype = "socket"\nbackend = "./select.js"\nbackend-config = { source = "tokens" }\n`,
    );
    assert.equal(config.server.sslCert, '/etc/wsbridge/tls/cert.pem');
    assert.equal(config.server.sslKey, '/abs/key.pem');
    assert.equal(config.server.accessLog, '/etc/log/access.log');
    const [files, run, cat, pipe, file, module] = config.routes;
    assert.equal(files.program?.staticDir, '/etc/wsbridge/public');
    assert.equal(run.program?.command, '/etc/wsbridge/bin/run.sh');
    assert.deepEqual(run.program?.args, ['x/y'], 'arguments are passed as written');
    assert.equal(cat.program?.command, 'cat', 'a name without a slash is looked up in PATH');
    assert.equal(cat.program?.cgiDir, '/etc/wsbridge/cgi');
    assert.equal(pipe.pipe?.pipeIn, '/etc/wsbridge/run/in.fifo');
    assert.equal(pipe.pipe?.pipeOut, '/tmp/out.fifo');
    assert.deepEqual(file.socket?.backendConfig, [
      ['path', '/etc/wsbridge/peers'],
      ['expression', '%endpoint%'],
    ]);
    assert.equal(module.socket?.backend, '/etc/wsbridge/select.js');
    assert.deepEqual(module.socket?.backendConfig, [['source', 'tokens']], "a module's settings are its own");
  });

  it('examples/routes/wsbridge.toml is valid, and the files it names are there', () => {
    const file = join(REPO_ROOT, 'examples', 'routes', 'wsbridge.toml');
    const config = loadWsbridgeConfig(file);
    assert.deepEqual(
      config.routes.map((r) => r.type),
      ['static', 'echo', 'program', 'pipe'],
    );
    const [files, , count] = config.routes;
    assert.ok(statSync(join(files.program!.staticDir!, 'index.html')).isFile());
    accessSync(count.program!.command!, constants.X_OK);
  });

  it('defaults the server settings as the command line does', () => {
    const { server } = load(ECHO);
    assert.equal(server.port, 7890);
    assert.equal(server.host, undefined);
    assert.equal(server.maxMessageSize, 1024 * 1024);
    assert.notEqual(server.deflate, false);
  });
});

describe('a config file with a mistake stops with file, line and problem', () => {
  const cases: [string, string, RegExp][] = [
    ['TOML syntax', 'a = 1\n[server\nport = 1\n', /^2: /],
    ['unterminated array', '[server]\norigin = [\n', /^\d: /],
    ['unknown top-level table', '[[routes]]\npath = "/"\n', /^1: unknown table 'routes'/],
    ['unknown top-level key', 'port = 80\n' + ECHO, /^1: unknown key 'port'/],
    ['unknown server key', '[server]\nport = 1\nprot = 2\n' + ECHO, /^3: \[server\] unknown key 'prot'/],
    [
      'a route key in [server]',
      '[server]\n\npeer = "tcp://a:1"\n' + ECHO,
      /^3: \[server\] 'peer' is a route setting: put it in a \[\[route\]\] of type socket/,
    ],
    [
      'a bad server value',
      '[server]\nport = 70000\n' + ECHO,
      /^2: \[server\] port must be a whole number from 0 to 65535/,
    ],
    [
      'a string for a number',
      '[server]\nmax-connections = "many"\n' + ECHO,
      /^2: \[server\] max-connections/,
    ],
    [
      'a float',
      '[server]\nport = 80.5\n' + ECHO,
      /^2: \[server\] port: expected a string or an integer, not the number 80.5/,
    ],
    [
      'a string for a boolean',
      '[server]\ndeflate-no-context-takeover = "yes"\n' + ECHO,
      /^2: .*expected true or false/,
    ],
    ['no routes', '[server]\nport = 1\n', /^-: no \[\[route\]\]/],
    ['routes as a table', '[route]\npath = "/"\n', /^1: routes are written as \[\[route\]\] tables/],
    [
      'no path',
      '[[route]]\ntype = "echo"\n',
      /^1: a route needs exactly one of path \(exact match\) or prefix/,
    ],
    [
      'path and prefix',
      '[[route]]\npath = "/a"\nprefix = "/b"\ntype = "echo"\n',
      /^1: a route needs exactly one/,
    ],
    [
      'a relative path',
      '[[route]]\ntype = "echo"\npath = "a"\n',
      /^3: path must be a string starting with '\/'/,
    ],
    ['a query in the path', '[[route]]\ntype = "echo"\npath = "/a?b"\n', /^3: path must be a plain URL path/],
    [
      'no type',
      '[[route]]\npath = "/a"\n',
      /^1: route \/a: type must be one of echo, pipe, program, socket, static$/,
    ],
    [
      'an unknown type',
      '[[route]]\npath = "/a"\ntype = "peer"\n',
      /^3: route \/a: type must be one of .*, not 'peer'/,
    ],
    [
      'the same path twice',
      ECHO + '\n[[route]]\ntype = "echo"\npath = "/"\n',
      /^7: route \/: the same path as route 1/,
    ],
    [
      'a server key in a route',
      '[[route]]\npath = "/a"\ntype = "echo"\nport = 1\n',
      /^4: route \/a: 'port' is a server setting: put it in \[server\]/,
    ],
    [
      'a websocketd listening flag in a program route',
      '[[route]]\npath = "/a"\ntype = "program"\ncommand = "cat"\npingms = 100\n',
      /^5: route \/a: 'pingms' is a server setting: use ping-interval \(milliseconds\) in \[server\]/,
    ],
    [
      'ssl-ca without a certificate',
      '[server]\nssl-ca = "ca.pem"\n' + ECHO,
      /^2: \[server\] ssl-ca needs ssl-cert and ssl-key/,
    ],
    [
      'a bad redirect-port',
      '[server]\nredirect-port = "80"\n' + ECHO,
      /^2: \[server\] redirect-port must be a whole number/,
    ],
    [
      'a key of another route type',
      '[[route]]\npath = "/a"\ntype = "echo"\npeer = "tcp://x:1"\n',
      /^4: route \/a: unknown key 'peer' for a echo route \(known: protocol, max-frame-size\)/,
    ],
    [
      'a bad framing',
      '[[route]]\npath = "/a"\ntype = "socket"\npeer = "tcp://x:1"\nframing = "lines"\n',
      /^5: route \/a: framing: unknown framing 'lines'/,
    ],
    [
      'framing-config without its framing',
      '[[route]]\npath = "/a"\ntype = "socket"\npeer = "tcp://x:1"\nframing-config = "lf"\n',
      /^5: route \/a: framing: framing auto takes no framing-config/,
    ],
    [
      'a bad peer',
      '[[route]]\npath = "/a"\ntype = "socket"\n\npeer = "ftp://x:1"\n',
      /^5: route \/a: peer: .*ftp/,
    ],
    [
      'a socket route with no peer',
      '[[route]]\npath = "/a"\ntype = "socket"\n',
      /^1: route \/a: socket mode needs peer=URL or backend/,
    ],
    [
      'a bad websocketd boolean',
      '[[route]]\npath = "/a"\ntype = "program"\ncommand = "cat"\nbinary = 1\n',
      /^5: route \/a: binary: expected true or false, not number 1/,
    ],
    [
      'an empty command',
      '[[route]]\npath = "/a"\ntype = "program"\ncommand = []\n',
      /^4: route \/a: command: expected a program name or an array of strings/,
    ],
    [
      'a program route with nothing to run',
      '[[route]]\npath = "/a"\ntype = "program"\nbinary = true\n',
      /^1: route \/a: give a COMMAND to run, or dir, staticdir or cgidir/,
    ],
    [
      'a static route without staticdir',
      '[[route]]\npath = "/a"\ntype = "static"\n',
      /^1: route \/a: staticdir: a static route needs/,
    ],
    [
      'two pipe routes on the default FIFOs',
      '[[route]]\npath = "/a"\ntype = "pipe"\n[[route]]\npath = "/b"\ntype = "pipe"\n',
      /^4: route \/b: FIFO \/tmp\/wspipein.fifo is already used by route \/a/,
    ],
    [
      'two pipe routes on stdin',
      '[[route]]\npath = "/a"\ntype = "pipe"\nstd = true\n[[route]]\npath = "/b"\ntype = "pipe"\npipeout = "/tmp/x"\nstdin = true\n',
      /^\d: route \/b: stdin is already used by route \/a/,
    ],
  ];
  for (const [name, source, expected] of cases)
    it(name, () => {
      assert.match(failure(source), expected);
    });

  it('through the command: exit status 2 and one line on stderr naming the file and line', async () => {
    const dir = tempDir();
    try {
      const file = join(dir.path, 'bad.toml');
      writeFileSync(
        file,
        '[server]\nport = 8080\n\n[[route]]\npath = "/x"\ntype = "socket"\nframing = "nope"\npeer = "tcp://127.0.0.1:1"\n',
      );
      const result = await runCli([`--config=${file}`]);
      assert.equal(result.code, 2, result.stderr);
      assert.equal(
        result.stderr,
        `wsbridge: ${file}:7: route /x: framing: unknown framing 'nope' (one of: auto, binary, separator, newline, fixedlength, dynamic32, json)\n`,
      );
      const missing = await runCli([`--config=${join(dir.path, 'none.toml')}`]);
      assert.equal(missing.code, 2);
      assert.equal(missing.stderr, `wsbridge: ${join(dir.path, 'none.toml')}: cannot read: ENOENT\n`);
      const extra = await runCli([`--config=${file}`, '--port=1']);
      assert.equal(extra.code, 2);
      assert.match(
        extra.stderr,
        /^wsbridge: --config takes no other flags or arguments: put '--port' in the file\n$/,
      );
    } finally {
      dir.cleanup();
    }
  });

  it('a problem found when starting (a missing directory) names the key line too', async () => {
    const dir = tempDir();
    try {
      const file = join(dir.path, 'late.toml');
      writeFileSync(
        file,
        `[[route]]\npath = "/"\ntype = "echo"\n\n[[route]]\nprefix = "/www"\ntype = "static"\nstaticdir = "${dir.path}/missing"\n`,
      );
      const result = await runCli([`--config=${file}`]);
      assert.equal(result.code, 2, result.stderr);
      assert.equal(
        result.stderr,
        `wsbridge: ${file}:8: route /www/*: cannot use staticdir=${dir.path}/missing: ENOENT\n`,
      );
    } finally {
      dir.cleanup();
    }
  });
});

describe('every command-line flag has a config key', () => {
  /** Flags with another name in the file, or no place in it (each says why). */
  const EQUIVALENT: Record<string, string> = {
    help: 'command line only',
    h: 'command line only',
    version: 'command line only',
    license: 'command line only',
    quiet: '[server] log-level = "error"',
    'echo-mode': 'type = "echo"',
    keepalive: '[server] ping-interval (websocksy -k is seconds, the key milliseconds)',
    ...Object.fromEntries(
      Object.entries(WEBSOCKETD_SERVER_KEYS).map(([flag, key]) => [flag, `[server] ${key}`]),
    ),
  };
  const keys = new Set<string>([...SERVER_KEYS, ...EXTRA_SERVER_KEYS, ...Object.values(ROUTE_KEYS).flat()]);
  it("websocketd's listening flags name [server] keys that exist", () => {
    for (const key of Object.values(WEBSOCKETD_SERVER_KEYS))
      for (const name of key.replace(/ \(.*\)$/, '').split(' and '))
        assert.ok(keys.has(name), `${name} is a [server] key`);
  });
  const check = (mode: string, flags: string[]): void => {
    const missing = flags.filter((flag) => !keys.has(flag) && !(flag in EQUIVALENT));
    assert.deepEqual(missing, [], `${mode} flags without a config key`);
  };
  it('gwsocket-style flags (pipe and echo modes)', () => check('pipe', Object.keys(optionSpec)));
  it('websocksy-style flags (socket mode)', () => check('socket', Object.keys(SOCKET_FLAGS)));
  it('websocketd-style flags (program mode)', () => check('program', Object.keys(PROGRAM_FLAGS)));
  it('each route type accepts exactly its own keys', () => {
    for (const [type, own] of Object.entries(ROUTE_KEYS) as [RouteType, readonly string[]][])
      for (const key of own) {
        const value = key === 'command' ? '"cat"' : '1';
        const source = `[[route]]\npath = "/a"\ntype = "${type}"\n${key} = ${value}\n`;
        let problem = '';
        try {
          load(source);
        } catch (error) {
          problem = (error as Error).message;
        }
        assert.doesNotMatch(problem, /unknown key/, `${type} ${key}`);
      }
  });
});

describe('KeyLines', () => {
  it('finds keys per table and per array-of-tables entry, skipping multi-line strings', () => {
    const lines = new KeyLines(
      'top = 1\n[server]\nport = 1\n"quoted-key" = 2\n[[route]]\npath = "/a"\ntext = """\nport = 9\n"""\n[[route]]\n  path = "/b"\n',
    );
    assert.equal(lines.of(undefined, 0, 'top'), 1);
    assert.equal(lines.of('server', 0, 'port'), 3);
    assert.equal(lines.of('server', 0, 'quoted-key'), 4);
    assert.equal(lines.of('route', 0, 'path'), 6);
    assert.equal(lines.of('route', 0, 'port'), 5, 'inside a multi-line string: not a key; the header line');
    assert.equal(lines.of('route', 1), 10);
    assert.equal(lines.of('route', 1, 'path'), 11);
  });
});
