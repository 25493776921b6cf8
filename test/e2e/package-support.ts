import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { access, copyFile, chmod, constants, mkdir, realpath, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { binaryPath, isFresh } from '../../scripts/package/build.js';

/** Helpers of test/e2e/package.test.ts: the single executable, and a place where no Node.js can be found. */

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const TARGET = 'linux-x64';
export const run = promisify(execFile);

const exists = (path: string) =>
  access(path, constants.X_OK).then(
    () => true,
    () => false,
  );

/**
 * dist/ogent-linux-x64, built now unless it is newer than every source (a build takes seconds once Node is cached).
 * Built by `npm run package`'s script in a process of its own, as a user builds it: the build loads postject, whose
 * process-wide handlers would turn any later stray rejection in this test process into a crash with no summary.
 */
export async function builtBinary(): Promise<string> {
  if (!(await isFresh(ROOT, TARGET))) {
    await run(process.execPath, ['--import', 'tsx', 'scripts/package.ts', '--target', TARGET], {
      cwd: ROOT,
      maxBuffer: 16 * 1024 * 1024,
    }).catch((err: Error & { stderr?: string }) => {
      throw new Error(`npm run package failed: ${err.stderr?.slice(-4000) ?? err.message}`);
    });
  }
  return binaryPath(ROOT, TARGET);
}

export interface NoNode {
  /** How Node.js is kept out of sight, for the test's title. */
  how: string;
  /** Node binaries cannot even be run by their path (the mount namespace), not only not found on PATH. */
  hidden: boolean;
  /** `file args` that runs `argv` with exactly `env`, where no `node` can be found. */
  command(argv: string[], env: Record<string, string>): { file: string; args: string[] };
  /** The same as one shell command line (for a tmux pane). */
  line(argv: string[], env: Record<string, string>): string;
}

export const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * A place with no Node.js: a private mount namespace (`unshare --mount`) where every node binary on this machine is
 * covered by /dev/null and every global or project node_modules by an empty tmpfs; PATH=/usr/bin:/bin and nothing
 * else in the environment. Without unshare (no privileges, no user namespaces): PATH is a directory holding copies
 * of a few basic tools and no node, and the test's title says so.
 */
export async function noNode(dir: string): Promise<NoNode> {
  const dirs = new Set([
    ...(process.env.PATH ?? '').split(delimiter),
    '/usr/local/bin',
    '/usr/bin',
    '/bin',
    '/usr/local/sbin',
    '/usr/sbin',
    '/sbin',
  ]);
  const files = new Set<string>([await realpath(process.execPath)]);
  for (const d of dirs) {
    for (const name of ['node', 'nodejs']) {
      if (d && (await exists(join(d, name)))) files.add(await realpath(join(d, name)));
    }
  }
  const modules: string[] = [];
  for (const d of [
    '/usr/lib/node_modules',
    '/usr/local/lib/node_modules',
    '/usr/share/nodejs',
    join(ROOT, 'node_modules'),
  ])
    if (await exists(d)) modules.push(d);
  const script = join(dir, 'hide-node.sh');
  await writeFile(
    script,
    [
      '#!/bin/sh',
      'set -e',
      ...[...files].map((f) => `mount --bind /dev/null ${shellQuote(f)}`),
      ...modules.map((m) => `mount -t tmpfs -o ro,size=4k none ${shellQuote(m)}`),
      'exec "$@"',
      '',
    ].join('\n'),
  );
  const unshare = process.getuid?.() === 0 ? ['--mount'] : ['--mount', '--map-root-user'];
  const viaUnshare = (argv: string[], env: Record<string, string>) => ({
    file: '/usr/bin/env',
    args: [
      '-i',
      'PATH=/usr/bin:/bin',
      ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
      'unshare',
      ...unshare,
      '/bin/sh',
      script,
      ...argv,
    ],
  });
  // OGENT_TEST_NO_UNSHARE=1 tries the fallback on a machine that has unshare.
  const probe =
    !process.env.OGENT_TEST_NO_UNSHARE &&
    (await run(viaUnshare(['/bin/true'], {}).file, viaUnshare(['/bin/true'], {}).args).then(
      () => true,
      () => false,
    ));
  if (probe) {
    return {
      hidden: true,
      how: `a mount namespace hiding ${[...files].join(', ')} and ${modules.length} node_modules dirs`,
      command: viaUnshare,
      line: (argv, env) => {
        const c = viaUnshare(argv, env);
        return [c.file, ...c.args].map(shellQuote).join(' ');
      },
    };
  }
  const tools = join(dir, 'tools');
  await mkdir(tools, { recursive: true });
  for (const tool of [
    'sh',
    'env',
    'cat',
    'echo',
    'sleep',
    'uname',
    'hostname',
    'true',
    'false',
    'test',
    'printf',
    'id',
  ]) {
    for (const d of ['/usr/bin', '/bin']) {
      if (await exists(join(d, tool))) {
        await copyFile(join(d, tool), join(tools, tool));
        await chmod(join(tools, tool), 0o755);
        break;
      }
    }
  }
  const viaPath = (argv: string[], env: Record<string, string>) => ({
    file: '/usr/bin/env',
    args: ['-i', `PATH=${tools}`, ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...argv],
  });
  return {
    hidden: false,
    how: `PATH=${tools} (a few tools, no node)`,
    command: viaPath,
    line: (argv, env) => {
      const c = viaPath(argv, env);
      return [c.file, ...c.args].map(shellQuote).join(' ');
    },
  };
}

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `argv` in the no-Node place to completion. */
export function runIn(
  place: NoNode,
  argv: string[],
  env: Record<string, string>,
  options: { input?: string; cwd?: string; timeoutMs?: number } = {},
): Promise<Result> {
  const { file, args } = place.command(argv, env);
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${argv.join(' ')} did not finish in time\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, options.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => {}); // EPIPE: it exited without reading its input
    child.stdin.end(options.input ?? '');
  });
}

export interface Service {
  child: ChildProcess;
  match: RegExpMatchArray;
  output(): string;
  stop(): Promise<number | null>;
}

/** Starts `argv` in the no-Node place; resolves once its output matches `ready`. */
export function startIn(
  place: NoNode,
  argv: string[],
  env: Record<string, string>,
  ready: RegExp,
  options: { cwd?: string; timeoutMs?: number } = {},
): Promise<Service> {
  const { file, args } = place.command(argv, env);
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let settled = false;
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const service = (match: RegExpMatchArray): Service => ({
      child,
      match,
      output: () => out,
      async stop() {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        return exited;
      },
    });
    const onData = (d: Buffer) => {
      out += d.toString();
      const match = out.match(ready);
      if (match && !settled) {
        settled = true;
        clearTimeout(timer);
        resolve(service(match));
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      child.kill('SIGKILL');
      reject(new Error(`${argv.join(' ')} not ready in time:\n${out}`));
    }, options.timeoutMs ?? 30_000);
    void exited.then((code) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`${argv.join(' ')} exited with ${code} before it was ready:\n${out}`));
    });
  });
}
