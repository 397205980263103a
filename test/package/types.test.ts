/**
 * The published types as a user compiles against them: a TypeScript file importing 'wsbridge' (resolved
 * through package.json to dist/src/index.d.ts) type-checks with the public API, and a Connection's
 * internals (socket, session, write, receive, …) are not part of it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const INTERNALS = [
  'receive',
  'write',
  'onMessage',
  'onPing',
  'onPong',
  'onClose',
  'onProtocolError',
  'flushTick',
  'session',
  'socket',
  'alive',
  'idleSince',
  'pingSentAt',
  'handleDrain',
  'handleTransportClose',
  'notifyShutdown',
  'deflate',
  'limits',
  'handlers',
  'outQueue',
];

const consumer = `
import { createServer, connect, type Connection } from 'wsbridge';
const server = createServer<{ n: number }>({
  message(conn: Connection<{ n: number }>, data: Buffer) {
    const ok: boolean = conn.send(data);
    if (!ok) conn.pause();
  },
});
await server.listen({ port: 0 });
const client = await connect('ws://localhost:1/');
client.send('x');
${INTERNALS.map((name) => `// @ts-expect-error internal\nvoid client.${name};`).join('\n')}
`;

test('a user file compiles against the built types, and Connection internals are not visible', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'wsbridge-types-'));
  try {
    await mkdir(join(dir, 'node_modules'));
    await symlink(root, join(dir, 'node_modules', 'wsbridge'), 'dir');
    await writeFile(join(dir, 'package.json'), '{"type":"module"}');
    const file = join(dir, 'use.ts');
    await writeFile(file, consumer);
    const program = ts.createProgram([file], {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      strict: true,
      noEmit: true,
      skipLibCheck: false, // the .d.ts files themselves must be valid too
      types: ['node'],
      typeRoots: [join(root, 'node_modules', '@types')],
    });
    const errors = ts
      .getPreEmitDiagnostics(program)
      .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    assert.deepEqual(errors, []);
    const used = program.getSourceFiles().map((f) => f.fileName);
    assert.ok(
      used.some((f) => f.endsWith('dist/src/index.d.ts')),
      'resolved to the built types',
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the emitted Connection class declares no internal member', async () => {
  const dts = await readFile(join(root, 'dist/src/server/connection.d.ts'), 'utf8');
  const body = dts.slice(dts.indexOf('export declare class Connection'));
  assert.ok(body.length > 0);
  for (const name of INTERNALS)
    assert.doesNotMatch(body, new RegExp(`^\\s+(private |readonly )*${name}\\b`, 'm'), name);
  assert.doesNotMatch(dts, /ConnectionInit/);
});
