/**
 * The package as published: `npm pack` it, unpack the tarball into a fresh project's node_modules, and
 * load it both ways a user would, `import` and `require` (require(esm): Node 20.19+ and 22.12+).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));

function run(
  command: string,
  args: string[],
  cwd: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error.code as number | undefined) ?? 1) : 0, stdout, stderr }),
    );
  });
}

let dir: string;
let files: string[];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wsbridge-pack-'));
  // --ignore-scripts: `prepare` would rebuild the tree under the running tests; it is already built.
  const packed = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], root);
  assert.equal(packed.code, 0, packed.stderr);
  const tarball = join(dir, packed.stdout.trim().split('\n').pop()!);
  const listed = await run('tar', ['-tzf', tarball], dir);
  assert.equal(listed.code, 0, listed.stderr);
  files = listed.stdout.split('\n').filter(Boolean);
  const installed = join(dir, 'project', 'node_modules', 'wsbridge');
  await mkdir(installed, { recursive: true });
  const unpacked = await run('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1'], dir);
  assert.equal(unpacked.code, 0, unpacked.stderr);
  // Its dependencies, as npm would have installed them beside it.
  const manifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
    optionalDependencies: Record<string, string>;
  };
  for (const name of [...Object.keys(manifest.dependencies), ...Object.keys(manifest.optionalDependencies)]) {
    const from = join(root, 'node_modules', name);
    if (existsSync(from)) await symlink(from, join(dir, 'project', 'node_modules', name), 'dir');
  }
  await writeFile(join(dir, 'project', 'package.json'), '{"name":"user","private":true}');
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('the tarball holds the build, README, LICENSE (MIT) and examples, and no tests', async () => {
  for (const file of [
    'package/package.json',
    'package/LICENSE',
    'package/README.md',
    'package/dist/src/index.js',
    'package/dist/src/index.d.ts',
    'package/dist/src/cli/main.js',
    'package/examples/websockify-token-backend.js',
    'package/examples/routes/wsbridge.toml',
  ])
    assert.ok(files.includes(file), `${file} is packed`);
  assert.ok(!files.some((f) => f.startsWith('package/dist/test/')), 'tests are not packed');
  const license = await readFile(join(dir, 'project/node_modules/wsbridge/LICENSE'), 'utf8');
  assert.match(license, /^MIT License/);
  assert.match(license, /Copyright \(c\) 2026 the wsbridge authors/);
});

const NAMES = ['connect', 'createServer', 'Hub', 'Server', 'prepareFrame', 'HandshakeError'];
const show = `const names = ${JSON.stringify(NAMES)}; const t = (m) => names.map((n) => n + ':' + typeof m[n]).join(' ');`;
const expected = NAMES.map((n) => `${n}:function`).join(' ');

test("import('wsbridge') from an installed copy gives the library", async () => {
  const code = `${show} const m = await import('wsbridge'); const p = await import('wsbridge/protocol'); console.log(t(m), typeof p.WebSocketSession);`;
  const result = await run(process.execPath, ['--input-type=module', '-e', code], join(dir, 'project'));
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout.trim(), `${expected} function`);
});

test("require('wsbridge') from an installed copy gives the same library", async () => {
  const code = `${show} const m = require('wsbridge'); const p = require('wsbridge/protocol'); console.log(t(m), typeof p.WebSocketSession); const s = m.createServer(); s.listen({ port: 0, host: '127.0.0.1' }).then(() => s.close()).then(() => console.log('listened'));`;
  const result = await run(process.execPath, ['--input-type=commonjs', '-e', code], join(dir, 'project'));
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout.trim(), `${expected} function\nlistened`);
});
