/**
 * gwsocket's documented applications work unchanged against wsbridge: the C examples of gwsocket's man
 * page (compiled with `cc`; only the FIFO path literal is replaced by the test's own path, and headers
 * the snippets forgot are force-included), and the same writer/reader pairs in Python and Perl, in
 * standard and strict mode.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  connect,
  findCc,
  missingProgram,
  PERL,
  PYTHON,
  run,
  start,
  sleep,
  startBridge,
  type Bridge,
  type Client,
  type Proc,
} from '../helpers/pipe-harness.js';

// ------------------------------------------------------------------------- gwsocket man page, verbatim

const MAN_STANDARD_WRITER = String.raw`
  #include <fcntl.h>
  #include <sys/stat.h>
  #include <sys/types.h>
  #include <unistd.h>

  int main() {
      int fd;
      char *myfifo = "/tmp/wspipein.fifo";
      const char *msg = "Message to broadcast";

      fd = open(myfifo, O_WRONLY);
      write(fd, msg, strlen(msg));
      close(fd);

      return 0;
  }
`;

const MAN_STANDARD_READER = String.raw`
  #include <stdio.h>
  #include <stdlib.h>
  #include <fcntl.h>
  #include <limits.h>

  static void read_message (int fd, fd_set set) {
    int bytes = 0;
    char buf[PIPE_BUF] = { 0 };

    FD_ZERO (&set);
    FD_SET (fd, &set);

    if ((select (fd + 1, &set, NULL, NULL, NULL)) < 1)
      exit (1);
    if (!FD_ISSET (fd, &set))
      return;

    if (read (fd, buf, PIPE_BUF) > 0)
      printf ("%s\n", buf);
  }

  int main (void) {
    fd_set set;
    char *fifo = "/tmp/wspipeout.fifo";
    int fd = 0;

    if ((fd = open (fifo, O_RDWR | O_NONBLOCK)) < 0)
      exit (1);
    while (1)
      read_message(fd, set);

    return 0;
  }
`;

const MAN_STRICT_WRITER = String.raw`
  #include <stdio.h>
  #include <stdlib.h>
  #include <string.h>
  #include <fcntl.h>

  size_t pack_uint32(void* buf, uint32_t val) {
    uint32_t v32 = htonl(val);
    memcpy(buf, &v32, sizeof(uint32_t));
    return sizeof(uint32_t);
  }

  int main() {
    char *p = calloc (sizeof(uint32_t) * 3, sizeof(char)), *ptr;
    const char *msg = "Message to broadcast";
    const char *fifo = "/tmp/wspipein.fifo";
    int fd;

    ptr = p;
    ptr += pack_uint32(ptr, 0);
    ptr += pack_uint32(ptr, 0x01);
    ptr += pack_uint32(ptr, strlen(msg));

    fd = open(fifo, O_WRONLY);
    write(fd, p, sizeof(uint32_t) * 3);
    write(fd, msg, strlen(msg));
    close(fd);
    free (p);

    return 0;
  }
`;

const MAN_STRICT_READER = String.raw`
  #include <stdio.h>
  #include <stdlib.h>
  #include <fcntl.h>
  #include <limits.h>
  #include <int.h>

  static size_t unpack_uint32 (const void *b, uint32_t * val) {
    uint32_t v32 = 0;
    memcpy (&v32, b, sizeof (uint32_t));
    *val = ntohl (v32);
    return sizeof (uint32_t);
  }

  static void read_message (int fd, fd_set set) {
    int bytes = 0;
    uint32_t size = 0, listener = 0, type = 0;
    char hdr[PIPE_BUF] = { 0 }, buf[PIPE_BUF] = {0};
    char *ptr = NULL;

    FD_ZERO (&set);
    FD_SET (fd, &set);

    if ((select (fd + 1, &set, NULL, NULL, NULL)) < 1)
      exit (1);
    if (!FD_ISSET (fd, &set))
      return;

    if (hdr[0] == '\0') {
      if (read (fd, hdr, sizeof (uint32_t) * 3) < 1)
        return;
    }

    ptr = hdr;
    ptr += unpack_uint32(ptr, &listener);
    ptr += unpack_uint32(ptr, &type);
    ptr += unpack_uint32(ptr, &size);

    if (read (fd, buf, size) < 1)
      return;

    printf ("client: %d, msg: %s\n", listener, buf);
  }

  int main (void) {
    fd_set set;
    char *fifo = "/tmp/wspipeout.fifo";
    int fd = 0;

    if ((fd = open (fifo, O_RDWR | O_NONBLOCK)) < 0)
      exit (1);
    while (1)
      read_message(fd, set);

    return 0;
  }
`;

// ---------------------------------------------------------------------------------------------- Python

const PY_STANDARD_WRITER = `
import sys
with open(sys.argv[1], 'w') as fifo:
    fifo.write(sys.argv[2])  # no newline: closing ends the message
`;

const PY_STANDARD_READER = `
import sys
with open(sys.argv[1], 'rb', buffering=0) as fifo:
    pending = b''
    while True:
        chunk = fifo.read(4096)
        if not chunk:
            break
        pending += chunk
        while b'\\n' in pending:
            line, pending = pending.split(b'\\n', 1)
            print('got: ' + line.decode('utf-8'), flush=True)
`;

const PY_STRICT_WRITER = `
import struct, sys
msg = sys.argv[2].encode('utf-8')
with open(sys.argv[1], 'wb', buffering=0) as fifo:
    fifo.write(struct.pack('>III', int(sys.argv[3]), 0x01, len(msg)))
    fifo.write(msg)
`;

const PY_STRICT_READER = `
import struct, sys
def read_exact(fifo, n):
    data = b''
    while len(data) < n:
        chunk = fifo.read(n - len(data))
        if not chunk:
            sys.exit(0)
        data += chunk
    return data
with open(sys.argv[1], 'rb', buffering=0) as fifo:
    while True:
        client, kind, length = struct.unpack('>III', read_exact(fifo, 12))
        payload = read_exact(fifo, length).rstrip(b'\\0').decode('utf-8')
        print('client=%d type=%d len=%d payload=%s' % (client, kind, length, payload), flush=True)
`;

// ------------------------------------------------------------------------------------------------ Perl

const PL_STANDARD_WRITER = `
open(my $fifo, '>', $ARGV[0]) or die "open: $!";
print $fifo $ARGV[1];
close $fifo;
`;

const PL_STANDARD_READER = `
open(my $fifo, '<', $ARGV[0]) or die "open: $!";
$| = 1;
while (my $line = <$fifo>) { chomp $line; print "got: $line\\n"; }
`;

const PL_STRICT_WRITER = `
open(my $fifo, '>:raw', $ARGV[0]) or die "open: $!";
my $msg = $ARGV[1];
syswrite($fifo, pack('NNN', $ARGV[2], 1, length $msg));
syswrite($fifo, $msg);
close $fifo;
`;

const PL_STRICT_READER = `
open(my $fifo, '<:raw', $ARGV[0]) or die "open: $!";
$| = 1;
sub exactly { my $n = shift; my $buf = '';
  while (length($buf) < $n) { my $r = read($fifo, $buf, $n - length($buf), length($buf)); exit 0 unless $r; }
  return $buf; }
while (1) {
  my ($client, $type, $len) = unpack('NNN', exactly(12));
  my $payload = $len ? exactly($len) : '';
  $payload =~ s/\\0+$//;
  print "client=$client type=$type len=$len payload=$payload\\n";
}
`;

// -------------------------------------------------------------------------------------------- harness

interface Setup {
  bridge: Bridge;
  client: Client;
  reader: Proc;
}

const running: { bridges: Bridge[]; procs: Proc[]; clients: Client[] } = {
  bridges: [],
  procs: [],
  clients: [],
};
after(async () => {
  for (const c of running.clients) c.ws.terminate();
  for (const p of running.procs) await p.kill();
  for (const b of running.bridges) await b.cleanup();
});

/** A bridge, a reader program started on its output FIFO, then a client. */
async function setup(args: string[], reader: (bridge: Bridge) => [string, string[]]): Promise<Setup> {
  const bridge = await startBridge(args);
  running.bridges.push(bridge);
  const [command, argv] = reader(bridge);
  const proc = start(command, argv);
  running.procs.push(proc);
  const client = await connect(bridge.url());
  running.clients.push(client);
  return { bridge, client, reader: proc };
}

const script = (bridge: Bridge, name: string, text: string): string => {
  const path = join(bridge.dir, name);
  writeFileSync(path, text);
  return path;
};

// ------------------------------------------------------------------------------------------------ C

const cc = findCc();
const ccMissing = cc ? missingProgram('/usr/bin/stdbuf') : 'no C compiler (cc) on the PATH';
if (ccMissing) console.log(`# skipping the man page's C examples: ${ccMissing}`);

/** Compiles a man-page snippet with only its FIFO path replaced. */
async function compile(bridge: Bridge, name: string, source: string): Promise<string> {
  const replaced = source
    .replace('"/tmp/wspipein.fifo"', JSON.stringify(bridge.pipeIn))
    .replace('"/tmp/wspipeout.fifo"', JSON.stringify(bridge.pipeOut));
  assert.notEqual(replaced, source, 'the snippet names a FIFO');
  const include = join(bridge.dir, 'include');
  mkdirSync(include, { recursive: true });
  writeFileSync(join(include, 'int.h'), '/* the man page includes <int.h>, which does not exist */\n');
  const src = script(bridge, `${name}.c`, replaced);
  const out = join(bridge.dir, name);
  // The snippets use strlen, htonl, select, read… without including their headers: force-include them.
  const forced = ['string.h', 'stdint.h', 'unistd.h', 'arpa/inet.h', 'sys/select.h'].flatMap((h) => [
    '-include',
    h,
  ]);
  await run(cc!, ['-w', '-I', include, ...forced, '-o', out, src], { ms: 30_000 });
  return out;
}

describe("gwsocket man page's C examples, compiled with cc", { skip: ccMissing }, () => {
  it('standard mode: the writer (no newline, then close) is one message; the select() reader prints what a client sends', async () => {
    const bridge = await startBridge();
    running.bridges.push(bridge);
    const writer = await compile(bridge, 'writer', MAN_STANDARD_WRITER);
    const readerBin = await compile(bridge, 'reader', MAN_STANDARD_READER);
    const reader = start('/usr/bin/stdbuf', ['-o0', readerBin]);
    running.procs.push(reader);
    const client = await connect(bridge.url());
    running.clients.push(client);
    await run(writer, []);
    await client.waitCount(1);
    assert.deepEqual(client.texts(), ['Message to broadcast']);
    client.ws.send('hello C reader');
    // (its printf may reach us in more than one piece: wait for the whole of it)
    await reader.waitStdout((out) => out.includes('hello C reader\n\n'), 5_000, 'C reader output');
    await sleep(100);
    assert.equal(reader.stdout().toString(), 'hello C reader\n\n'); // its printf adds a newline to ours
  });

  it('strict mode: the writer (header write, then payload write) broadcasts; the reader sees the open record and the message', async () => {
    const bridge = await startBridge(['--strict']);
    running.bridges.push(bridge);
    const writer = await compile(bridge, 'writer', MAN_STRICT_WRITER);
    const readerBin = await compile(bridge, 'reader', MAN_STRICT_READER);
    const reader = start('/usr/bin/stdbuf', ['-o0', readerBin]);
    running.procs.push(reader);
    const client = await connect(bridge.url());
    running.clients.push(client);
    await reader.waitStdout((out) => out.includes('client: 1, msg: 127.0.0.1\n'), 5_000, 'open record');
    await run(writer, []);
    await client.waitCount(1);
    assert.deepEqual(client.texts(), ['Message to broadcast']);
    client.ws.send('hello strict C reader');
    await reader.waitStdout(
      (out) => out.includes('client: 1, msg: hello strict C reader\n'),
      5_000,
      'message',
    );
    await client.close();
    // the close record (length 0) makes its read(fd, buf, 0) return 0: the example prints nothing for it
    assert.equal(
      reader.stdout().toString(),
      'client: 1, msg: 127.0.0.1\nclient: 1, msg: hello strict C reader\n',
    );
  });
});

// ---------------------------------------------------------------------------------- Python and Perl

const languages = [
  {
    name: 'Python',
    program: PYTHON,
    flags: ['-u'],
    standard: { writer: PY_STANDARD_WRITER, reader: PY_STANDARD_READER },
    strict: { writer: PY_STRICT_WRITER, reader: PY_STRICT_READER },
  },
  {
    name: 'Perl',
    program: PERL,
    flags: [] as string[],
    standard: { writer: PL_STANDARD_WRITER, reader: PL_STANDARD_READER },
    strict: { writer: PL_STRICT_WRITER, reader: PL_STRICT_READER },
  },
];

for (const lang of languages) {
  const missing = missingProgram(lang.program);
  if (missing) console.log(`# skipping the ${lang.name} examples: ${missing}`);
  const ext = lang.name === 'Python' ? 'py' : 'pl';

  describe(`${lang.name} writer and reader`, { skip: missing }, () => {
    it('standard mode: a write without newline, then close, is one message; the reader gets client messages as lines', async () => {
      const { bridge, client, reader } = await setup([], (b) => [
        lang.program,
        [...lang.flags, script(b, `reader.${ext}`, lang.standard.reader), b.pipeOut],
      ]);
      const writer = script(bridge, `writer.${ext}`, lang.standard.writer);
      await run(lang.program, [...lang.flags, writer, bridge.pipeIn, `Message from ${lang.name}`]);
      await run(lang.program, [...lang.flags, writer, bridge.pipeIn, `second ${lang.name} writer — ü`]);
      await client.waitCount(2);
      assert.deepEqual(client.texts(), [`Message from ${lang.name}`, `second ${lang.name} writer — ü`]);
      client.ws.send('first line for the reader');
      client.ws.send('second — ü');
      await reader.waitStdout((out) => out.toString().includes('got: second — ü\n'), 5_000, 'reader output');
      assert.equal(reader.stdout().toString(), 'got: first line for the reader\ngot: second — ü\n');
    });

    it('strict mode: a broadcast record and one addressed by id; the reader parses open, message and close records', async () => {
      const { bridge, client, reader } = await setup(['--strict'], (b) => [
        lang.program,
        [...lang.flags, script(b, `reader.${ext}`, lang.strict.reader), b.pipeOut],
      ]);
      await reader.waitStdout(
        (out) => /client=\d+ type=16 len=46 payload=127\.0\.0\.1\n/.test(out.toString()),
        5_000,
        'open',
      );
      const id = Number(/client=(\d+) type=16/.exec(reader.stdout().toString())![1]);
      const writer = script(bridge, `writer.${ext}`, lang.strict.writer);
      await run(lang.program, [...lang.flags, writer, bridge.pipeIn, `broadcast from ${lang.name}`, '0']);
      await run(lang.program, [...lang.flags, writer, bridge.pipeIn, `just for #${id}`, String(id)]);
      await client.waitCount(2);
      assert.deepEqual(client.texts(), [`broadcast from ${lang.name}`, `just for #${id}`]);
      client.ws.send('to the strict reader');
      await client.close();
      await reader.waitStdout(
        (out) => out.includes(`client=${id} type=8 len=0 payload=\n`),
        5_000,
        'close record',
      );
      assert.equal(
        reader.stdout().toString(),
        `client=${id} type=16 len=46 payload=127.0.0.1\n` +
          `client=${id} type=1 len=20 payload=to the strict reader\n` +
          `client=${id} type=8 len=0 payload=\n`,
      );
    });
  });
}
