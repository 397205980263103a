/**
 * The README's library example, taken verbatim from README.md and run as a user would: in a project
 * where `wsbridge` resolves to this package. It must exit 0 and print what its callbacks log.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** The fenced code blocks of README.md that import from 'wsbridge'. */
async function libraryExamples(): Promise<string[]> {
  const readme = await readFile(join(root, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/^```(?:ts|js|mjs)\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
  return blocks.filter((code) => /^import .* from 'wsbridge';$/m.test(code));
}

function run(file: string, cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [file], { cwd, timeout: 20_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error.code as number | undefined) ?? 1) : 0, stdout, stderr }),
    );
  });
}

test('the README library example runs: exit 0, the server logs the client closing with 1000 done', async () => {
  const examples = await libraryExamples();
  assert.equal(examples.length, 1, 'README has one library example importing wsbridge');
  const dir = await mkdtemp(join(tmpdir(), 'wsbridge-readme-'));
  try {
    await mkdir(join(dir, 'node_modules'));
    await symlink(root, join(dir, 'node_modules', 'wsbridge'), 'dir');
    const js = ts.transpileModule(examples[0], {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText; // types stripped, nothing else changed
    await writeFile(join(dir, 'example.mjs'), js);
    const result = await run('example.mjs', dir);
    assert.equal(result.stderr, '');
    assert.equal(result.code, 0);
    assert.equal(result.stdout, '1 closed 1000 done\n');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
