/**
 * Where a V8 CPU profile (`node --cpu-prof`, `npm run bench -- --profile DIR`) spent its time: self time by
 * function and by package/file, and total (inclusive) time of the heaviest functions.
 * With `--long MS`: the stretches of at least MS of back-to-back busy samples (what delays the event loop), each
 * with the functions that took most of it.
 * Run: node --import tsx scripts/bench/profile-summary.ts FILE.cpuprofile [TOP] [--long MS]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const where = (url: string): string => {
  if (!url) return '(native/vm)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm !== -1) {
    const rest = url.slice(nm + 13).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url);
  }
  if (url.startsWith('node:')) return url;
  const src = url.search(/\/(lib|src|scripts)\//);
  return src === -1 ? url : url.slice(src + 1);
};

function summarise(file: string, top: number): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const fnSelf = new Map<string, number>();
  const fileSelf = new Map<string, number>();
  const fnTotal = new Map<string, number>();
  const label = (n: ProfileNode) =>
    `${n.callFrame.functionName || '(anonymous)'} ${where(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
  for (const [id, us] of selfUs) {
    const n = byId.get(id) as ProfileNode;
    fnSelf.set(label(n), (fnSelf.get(label(n)) ?? 0) + us);
    fileSelf.set(where(n.callFrame.url), (fileSelf.get(where(n.callFrame.url)) ?? 0) + us);
    // Inclusive time: each function once per stack (recursion counted once).
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const l = label(byId.get(cur) as ProfileNode);
      if (seen.has(l)) continue;
      seen.add(l);
      fnTotal.set(l, (fnTotal.get(l) ?? 0) + us);
    }
  }
  const rows = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(
        ([k, us]) => `  ${(us / 1000).toFixed(0).padStart(7)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}`,
      )
      .join('\n');
  return [
    `${file}: ${(total / 1000).toFixed(0)} ms sampled over ${((profile.endTime - profile.startTime) / 1000).toFixed(0)} ms`,
    'self time by package/file:',
    rows(fileSelf),
    'self time by function:',
    rows(fnSelf),
    'total time by function:',
    rows(new Map([...fnTotal].filter(([k]) => !k.startsWith('(root)')))),
    '',
  ].join('\n');
}

/** Busy stretches (no idle sample) of at least `minMs`, longest first, with their heaviest functions (inclusive). */
function longTasks(file: string, minMs: number, top: number): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const idle = (id: number) => byId.get(id)?.callFrame.functionName === '(idle)';
  const tasks: Array<{ at: number; us: number; fns: Map<string, number> }> = [];
  let current: (typeof tasks)[number] | null = null;
  let at = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    at += dt;
    if (idle(id)) {
      if (current && current.us >= minMs * 1000) tasks.push(current);
      current = null;
      return;
    }
    current ??= { at, us: 0, fns: new Map() };
    current.us += dt;
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur) as ProfileNode;
      if (!n.callFrame.url || n.callFrame.url.startsWith('node:')) continue;
      const l = `${n.callFrame.functionName || '(anonymous)'} ${where(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
      if (seen.has(l)) continue;
      seen.add(l);
      current.fns.set(l, (current.fns.get(l) ?? 0) + dt);
    }
  });
  return (
    tasks
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map(
        (t) =>
          `${(t.us / 1000).toFixed(0).padStart(5)} ms busy at +${(t.at / 1e6).toFixed(2)} s:\n` +
          [...t.fns]
            .sort((a, b) => b[1] - a[1])
            .slice(0, 8)
            .map(([k, us]) => `    ${(us / 1000).toFixed(0).padStart(5)} ms  ${k}`)
            .join('\n'),
      )
      .join('\n') + '\n'
  );
}

const args = process.argv.slice(2);
const long = args.indexOf('--long');
const minMs = long === -1 ? undefined : Number(args.splice(long, 2)[1]);
const [file, top] = args;
if (!file) {
  process.stderr.write('usage: profile-summary.ts FILE.cpuprofile [TOP] [--long MS]\n');
  process.exit(2);
}
process.stdout.write(
  minMs === undefined ? summarise(file, Number(top ?? 25)) : longTasks(file, minMs, Number(top ?? 10)),
);
