/**
 * node --import tsx scripts/package/bench.ts [--runs 20]
 * The single executable against bin/run.js, in one run: `--version`, and a one-agent `exec --json true` round trip
 * (a controller and an agent of the same kind already running; the client logs in with a password, as cron would).
 * Also the binary built without V8's code cache, to show what the cache buys. Cases are taken in turn, one run each a
 * round, each timed by hyperfine when installed (else wall time only). Prints Markdown for BENCHMARKS.md.
 */
import { execa, type ResultPromise } from 'execa';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { binaryPath, isFresh, packageBinaries } from './build.js';
import { findTool, NODE_VERSION } from './node-base.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const { values } = parseArgs({ options: { runs: { type: 'string', default: '20' } } });
const runs = Number(values.runs);
const PASSWORD = 'bench-admin-password';
const AGENT_PASSWORD = 'bench-agent-password';

if (!(await isFresh(root, 'linux-x64'))) await packageBinaries({ root, targets: ['linux-x64'] });
const binary = binaryPath(root, 'linux-x64');
const work = await mkdtemp(join(tmpdir(), 'ogent-bench-'));
const children: ResultPromise[] = [];

/** Starts `cmd`; resolves with the first match of `ready` in its output. */
function start(cmd: string[], env: Record<string, string>, ready: RegExp): Promise<RegExpMatchArray> {
  const child = execa(cmd[0]!, cmd.slice(1), { env, reject: false, all: true, buffer: false });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.all?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out);
      if (m) resolve(m);
    });
    void child.then((r) => reject(new Error(`${cmd.join(' ')} exited ${r.exitCode}: ${out}`)));
  });
}

/** A controller and one agent, both run by `cmd`; returns the controller's URL. */
async function fleet(cmd: string[], dir: string): Promise<string> {
  const url = (
    await start(
      [...cmd, 'controller', 'serve', '--port', '0', '--data-dir', join(dir, 'data'), '--log-level', 'warn'],
      { OGENT_ADMIN_PASSWORD: PASSWORD, HOME: dir },
      /listening on (http:\/\/\S+)/,
    )
  )[1]!;
  const env = { OGENT_CONTROLLER: url, OGENT_USERNAME: 'admin', OGENT_PASSWORD: PASSWORD, HOME: dir };
  await execa(cmd[0]!, [...cmd.slice(1), 'users', 'add', 'bench-1', '--role', 'agent', '--password-stdin'], {
    env,
    input: AGENT_PASSWORD,
  });
  await start(
    [...cmd, 'agent', 'run', '--controller', url, '--name', 'bench-1', '--state-dir', join(dir, 'agent')],
    { OGENT_PASSWORD: AGENT_PASSWORD, HOME: dir },
    /"msg":"connected"/,
  );
  return url;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

try {
  const [noCache] = await packageBinaries({
    root,
    targets: ['linux-x64'],
    codeCache: false,
    outDir: work,
    log: () => {},
  });
  const runJs = [process.execPath, join(root, 'bin/run.js')];
  const binaryUrl = await fleet([binary], join(work, 'binary'));
  const runJsUrl = await fleet(runJs, join(work, 'run-js'));
  const columns = [
    { name: 'binary', cmd: [binary], url: binaryUrl },
    { name: 'binary without code cache', cmd: [noCache!.path], url: binaryUrl },
    { name: `bin/run.js (Node ${process.versions.node})`, cmd: runJs, url: runJsUrl },
  ];
  const rows = [
    { name: '`--version`', args: () => ['--version'] },
    {
      name: '`exec --json true`, 1 agent',
      args: (url: string) => ['exec', '--controller', url, '--all', '--json', '--', 'true'],
    },
  ];
  const cases = rows.flatMap((row) => columns.map((col) => [...col.cmd, ...row.args(col.url)]));
  const env = { OGENT_USERNAME: 'admin', OGENT_PASSWORD: PASSWORD, HOME: work, NO_COLOR: '1' };

  // Round robin, one run of each case a round, so that the load of a shared machine falls on all cases alike.
  const wall: number[][] = cases.map(() => []);
  const cpu: number[][] = cases.map(() => []);
  const hyperfine = await findTool(['hyperfine']);
  const out = join(work, 'hyperfine.json');
  for (let round = -3; round < runs; round++) {
    if (hyperfine) {
      await execa(hyperfine, ['-N', '--runs', '1', '--export-json', out, ...cases.map((c) => c.join(' '))], { env });
      const results = (JSON.parse(await readFile(out, 'utf8')) as { results: Array<Record<string, number>> }).results;
      if (round >= 0)
        results.forEach((r, i) => {
          wall[i]!.push(r.median! * 1000);
          cpu[i]!.push((r.user! + r.system!) * 1000);
        });
    } else {
      for (const [i, c] of cases.entries()) {
        const t = process.hrtime.bigint();
        await execa(c[0]!, c.slice(1), { env });
        if (round < 0) continue;
        wall[i]!.push(Number(process.hrtime.bigint() - t) / 1e6);
        cpu[i]!.push(NaN); // a child's CPU time is not measured without hyperfine
      }
    }
  }

  const size = (await stat(binary)).size;
  const gz = (await execa('sh', ['-c', `gzip -c -6 "$1" | wc -c`, 'sh', binary])).stdout.trim();
  const os = (await readFile('/etc/os-release', 'utf8')).match(/^PRETTY_NAME="?([^"\n]*)/m)?.[1] ?? 'Linux';
  const load = (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
  const f = (xs: number[]) => (Number.isNaN(median(xs)) ? '–' : `${median(xs).toFixed(0)} ms`);
  const table = [
    `Machine: ${cpus()[0]?.model.trim()}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, ${os}; ` +
      `load average at the end ${load}. Median of ${runs} runs, the cases taken in turn ` +
      `(${hyperfine ? 'each run timed by hyperfine -N' : 'own loop'}), after 3 warm-up rounds; ` +
      'wall time, and CPU time (user + system) in brackets.',
    '',
    `Binary: dist/ogent-linux-x64, Node ${NODE_VERSION} inside, stripped: ${(size / 2 ** 20).toFixed(1)} MiB ` +
      `(${(Number(gz) / 2 ** 20).toFixed(1)} MiB gzipped); without code cache ` +
      `${(noCache!.bytes / 2 ** 20).toFixed(1)} MiB.`,
    '',
    `| case | ${columns.map((c) => c.name).join(' | ')} |`,
    `| --- |${columns.map(() => ' --- |').join('')}`,
  ];
  rows.forEach((row, r) => {
    const cells = columns.map((_, c) => `${f(wall[r * columns.length + c]!)} (${f(cpu[r * columns.length + c]!)})`);
    table.push(`| ${row.name} | ${cells.join(' | ')} |`);
  });
  process.stdout.write(`${table.join('\n')}\n`);
} finally {
  for (const c of children) c.kill('SIGTERM');
  await Promise.allSettled(children);
  await rm(work, { recursive: true, force: true });
}
