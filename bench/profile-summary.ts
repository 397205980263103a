/**
 * Summarizes a V8 .cpuprofile (from `run.js --cpu-prof DIR`): self time and total (inclusive) time per
 * function, as a share of all samples, top N.
 *
 *   node dist/bench/profile-summary.js FILE.cpuprofile [--top 25] [--filter wsbridge]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({
  options: { top: { type: 'string', default: '25' }, filter: { type: 'string' } },
  allowPositionals: true,
});
if (positionals.length === 0) {
  console.error('usage: profile-summary.js FILE.cpuprofile [--top N] [--filter TEXT]');
  process.exit(2);
}

for (const file of positionals) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfTime = new Map<number, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    selfTime.set(id, (selfTime.get(id) ?? 0) + dt);
    total += dt;
  });
  const key = (n: ProfileNode): string => {
    const url = n.callFrame.url.replace(/^file:\/\//, '').replace(/^.*\/(dist|node_modules)\//, '$1/');
    return `${n.callFrame.functionName || '(anonymous)'} ${url ? `${url}:${n.callFrame.lineNumber + 1}` : ''}`.trim();
  };
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, t] of selfTime) {
    const node = byId.get(id)!;
    self.set(key(node), (self.get(key(node)) ?? 0) + t);
    // Charge every distinct function on the stack once.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const k = key(byId.get(cur)!);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + t);
    }
  }
  const top = Number(values.top);
  const show = (title: string, map: Map<string, number>): void => {
    console.log(`  ${title}`);
    const rows = [...map]
      .filter(([k]) => !values.filter || k.includes(values.filter))
      .sort((a, b) => b[1] - a[1]);
    for (const [k, t] of rows.slice(0, top))
      console.log(`    ${((t / total) * 100).toFixed(1).padStart(5)}%  ${k}`);
  };
  // Self time by where the code lives.
  const origin = new Map<string, number>();
  for (const [id, t] of selfTime) {
    const { functionName, url } = byId.get(id)!.callFrame;
    const where =
      functionName === '(idle)'
        ? 'idle'
        : functionName === '(garbage collector)'
          ? 'garbage collector'
          : url.includes('/dist/src/')
            ? 'wsbridge (dist/src)'
            : url.includes('/node_modules/ws/')
              ? 'ws (node_modules/ws)'
              : url.includes('/dist/bench/')
                ? 'bench server script'
                : url.startsWith('node:')
                  ? 'node internals (JS)'
                  : 'native: syscalls, V8, other';
    origin.set(where, (origin.get(where) ?? 0) + t);
  }
  console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled`);
  console.log(
    `  by origin: ${[...origin]
      .sort((a, b) => b[1] - a[1])
      .map(([k, t]) => `${k} ${((t / total) * 100).toFixed(1)}%`)
      .join(', ')}`,
  );
  show('self time', self);
  show('total time (inclusive)', inclusive);
}
