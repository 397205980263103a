/**
 * Units of routing: the --dir script router (SCRIPT_NAME/PATH_INFO split, confinement by real path),
 * percent-decoding of URL paths, and websocketd's origin rules.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScriptRouter } from '../../src/modes/program/script-router.js';
import { decodeUrlPath, targetPath } from '../../src/server/safe-path.js';
import { originRefusal } from '../../src/modes/program/websocketd-origin.js';

describe('ScriptRouter', () => {
  let base: string;
  let root: string;
  let router: ScriptRouter;

  before(async () => {
    base = realpathSync(mkdtempSync(join(tmpdir(), 'wsb-router-')));
    root = join(base, 'scripts');
    mkdirSync(join(root, 'sub', 'deeper'), { recursive: true });
    writeFileSync(join(root, 'top.sh'), '#!/bin/sh\n', { mode: 0o755 });
    writeFileSync(join(root, 'sub', 'inner.sh'), '#!/bin/sh\n', { mode: 0o755 });
    writeFileSync(join(root, 'with space.sh'), '#!/bin/sh\n', { mode: 0o755 });
    writeFileSync(join(base, 'outside.sh'), '#!/bin/sh\n', { mode: 0o755 });
    mkdirSync(join(base, 'outdir'));
    writeFileSync(join(base, 'outdir', 'x.sh'), '#!/bin/sh\n', { mode: 0o755 });
    symlinkSync(join(base, 'outside.sh'), join(root, 'escape.sh'));
    symlinkSync(join(base, 'outdir'), join(root, 'escapedir'));
    symlinkSync(join(root, 'top.sh'), join(root, 'alias.sh'));
    router = await ScriptRouter.open(root);
  });
  after(() => rmSync(base, { recursive: true, force: true }));

  it('finds a script at the top and below, splitting off PATH_INFO', async () => {
    assert.deepEqual(await router.resolve('/top.sh'), {
      file: join(root, 'top.sh'),
      scriptName: '/top.sh',
      pathInfo: '',
      decodedPath: '/top.sh',
    });
    assert.deepEqual(await router.resolve('/sub/inner.sh/a/b?q=1'), {
      file: join(root, 'sub', 'inner.sh'),
      scriptName: '/sub/inner.sh',
      pathInfo: '/a/b',
      decodedPath: '/sub/inner.sh/a/b',
    });
    assert.equal((await router.resolve('/top.sh/'))?.pathInfo, '/');
  });

  it('decodes the path (%20), as Go does', async () => {
    assert.equal((await router.resolve('/with%20space.sh'))?.scriptName, '/with space.sh');
    assert.equal(await router.resolve('/with%2'), undefined);
  });

  it('a directory, a missing file or the root itself: not found', async () => {
    assert.equal(await router.resolve('/sub'), undefined);
    assert.equal(await router.resolve('/sub/'), undefined);
    assert.equal(await router.resolve('/sub/deeper'), undefined);
    assert.equal(await router.resolve('/nope.sh'), undefined);
    assert.equal(await router.resolve('/'), undefined);
  });

  it('no way out: .., encoded .., empty or dot segments, symlinks leaving the directory', async () => {
    for (const target of [
      '/../outside.sh',
      '/sub/../../outside.sh',
      '/%2e%2e/outside.sh',
      '/sub%2f..%2f..%2foutside.sh',
      '//top.sh',
      '/./top.sh',
      '/escape.sh',
      '/escapedir/x.sh',
      '/top.sh%00',
    ])
      assert.equal(await router.resolve(target), undefined, target);
  });

  it('a symlink that stays inside is followed, and the real file is run', async () => {
    const match = await router.resolve('/alias.sh/x');
    assert.equal(match?.file, join(root, 'top.sh'));
    assert.equal(match?.scriptName, '/alias.sh');
    assert.equal(match?.pathInfo, '/x');
  });

  it('PATH_INFO may contain anything: it is not a file path', async () => {
    assert.equal((await router.resolve('/top.sh/../x'))?.pathInfo, '/../x');
  });
});

describe('URL paths', () => {
  it('decodeUrlPath decodes percent escapes, refuses malformed ones', () => {
    assert.equal(decodeUrlPath('/a%20b/%C3%A9'), '/a b/é');
    assert.equal(decodeUrlPath('/a+b'), '/a+b');
    assert.equal(decodeUrlPath('/%zz'), undefined);
    assert.equal(decodeUrlPath('/%4'), undefined);
    assert.equal(decodeUrlPath('/%ff'), '/\ufffd');
  });

  it('targetPath takes the path of origin-form and absolute-form targets', () => {
    assert.equal(targetPath('/a/b?x'), '/a/b');
    assert.equal(targetPath('http://host:1/a?x'), '/a');
    assert.equal(targetPath('http://host'), '/');
  });
});

describe("websocketd's origin rules", () => {
  const rules = (origins: string[] = [], sameOrigin = false, tls = false) => ({ origins, sameOrigin, tls });

  it('without rules any origin passes, even none', () => {
    assert.equal(originRefusal(undefined, 'h', rules()), undefined);
    assert.equal(originRefusal('null', 'h', rules()), undefined);
    assert.equal(originRefusal('http://elsewhere.example', 'h', rules()), undefined);
  });

  it('no Origin header counts as file: and is refused whenever a rule is set', () => {
    assert.match(originRefusal(undefined, 'h:80', rules(['h'])) ?? '', /file:/);
    assert.match(originRefusal(undefined, 'h:80', rules([], true)) ?? '', /file:/);
    assert.ok(originRefusal('null', 'h', rules(['h'])));
  });

  it('--sameorigin: host and port must match the Host header, default ports filled in', () => {
    assert.equal(originRefusal('http://h.example', 'h.example:80', rules([], true)), undefined);
    assert.equal(originRefusal('http://h.example:8080', 'h.example:8080', rules([], true)), undefined);
    assert.equal(originRefusal('https://h.example', 'h.example', rules([], true, true)), undefined);
    assert.ok(originRefusal('http://h.example:8081', 'h.example:8080', rules([], true)));
    assert.ok(originRefusal('http://other.example:8080', 'h.example:8080', rules([], true)));
    assert.ok(originRefusal('http://h.example', 'h.example', rules([], true, true))); // 80 vs 443
  });

  it('--origin: host without port matches any port; host:port exactly; scheme:// must match', () => {
    const list = rules(['a.example', 'b.example:8080', 'https://c.example']);
    assert.equal(originRefusal('http://a.example:1234', 'x', list), undefined);
    assert.equal(originRefusal('https://A.example', 'x', list), undefined);
    assert.equal(originRefusal('http://b.example:8080', 'x', list), undefined);
    assert.ok(originRefusal('http://b.example:8081', 'x', list));
    assert.ok(originRefusal('http://b.example', 'x', list));
    assert.equal(originRefusal('https://c.example', 'x', list), undefined);
    assert.ok(originRefusal('http://c.example', 'x', list));
    assert.ok(originRefusal('http://d.example', 'x', list));
  });

  it('an entry with :80 matches port 80 only', () => {
    assert.equal(originRefusal('http://a.example', 'x', rules(['a.example:80'])), undefined);
    assert.ok(originRefusal('http://a.example:8080', 'x', rules(['a.example:80'])));
  });

  it('an unparseable Origin is refused, rules or not (as websocketd does)', () => {
    assert.ok(originRefusal('not a url', 'h', rules()));
  });
});
