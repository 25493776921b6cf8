import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import {
  chmod,
  copyFile,
  mkdir,
  mkdtemp,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { bundle } from './bundle.js';
import { baseNode, findTool, NODE_VERSION, runsHere, TARGETS, type Target } from './node-base.js';

/**
 * `npm run package`: dist/ogent-<target>, one file each with Node.js inside (Node's Single Executable Applications):
 * bundle (esbuild, one CommonJS file) → SEA blob (made by the target's own Node when it runs here, with V8's code
 * cache; otherwise by this machine's Node of the same version, without) → a copy of the base binary with the blob
 * injected (postject) → checked (run, or its ELF header) → dist/ogent-<target>.sha256.
 */

const FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
/**
 * postject, loaded only when a binary is injected: its emscripten code installs process-wide handlers that rethrow
 * every uncaught exception and unhandled rejection, which importing this module for its helpers must not do.
 */
const inject = (file: string, name: string, data: Buffer, options: { sentinelFuse: string }): Promise<void> =>
  (
    createRequire(import.meta.url)('postject') as {
      inject(file: string, name: string, data: Buffer, options: { sentinelFuse: string }): Promise<void>;
    }
  ).inject(file, name, data, options);

export interface PackageOptions {
  root: string;
  targets?: string[];
  /** V8 code cache in the blob, for targets this machine runs (default true). */
  codeCache?: boolean;
  /** Where the binaries go (default dist/). */
  outDir?: string;
  log?: (line: string) => void;
}

export interface Packaged {
  target: string;
  path: string;
  sha256: string;
  bytes: number;
  stripped: boolean;
  codeCache: boolean;
  /** What the check did: the `--version` line it got, or what it looked at. */
  checked: string;
}

export const DEFAULT_TARGETS = ['linux-x64', 'linux-arm64'];
export const distDir = (root: string) => join(root, 'dist');
export const binaryPath = (root: string, target: string) =>
  join(distDir(root), `ogent-${target}${TARGETS[target]?.extension ?? ''}`);
export const cacheDir = (root: string) => join(root, 'node_modules/.cache/ogent-package');

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** postject's ELF parser warns about every note section of a stripped Node binary; those lines are dropped. */
async function quietly<T>(fn: () => Promise<T>): Promise<T> {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (!/^warning: Can't find string offset for section name/.test(String(args[0]))) warn(...args);
  };
  try {
    return await fn();
  } finally {
    console.warn = warn;
  }
}

/** What `ogent --version` prints in the binary for `target`. */
export const expectedVersionLine = (version: string, target: Target) =>
  `ogent/${version} ${target.os}-${target.arch} node-v${NODE_VERSION}`;

/** The machine a file is built for (ELF e_machine, or PE Machine), or undefined when it is neither. */
async function machineOf(path: string, format: Target['format']): Promise<number | undefined> {
  const file = await open(path, 'r');
  try {
    const header = Buffer.alloc(4096);
    await file.read(header, 0, header.length, 0);
    if (format === 'elf') return header.readUInt32BE(0) === 0x7f454c46 ? header.readUInt16LE(18) : undefined;
    if (header.toString('latin1', 0, 2) !== 'MZ') return undefined;
    const pe = header.readUInt32LE(0x3c);
    if (pe + 6 > header.length || header.toString('latin1', pe, pe + 4) !== 'PE\0\0') return undefined;
    return header.readUInt16LE(pe + 4);
  } finally {
    await file.close();
  }
}

/** Runs the new binary (natively, or through qemu-user with a cross sysroot when there is one) or checks its header. */
async function check(path: string, target: Target, version: string): Promise<string> {
  const machine = await machineOf(path, target.format);
  if (machine !== target.machine)
    throw new Error(`${path}: ${target.format} machine ${machine}, expected ${target.machine} (${target.name})`);
  let command: string[] | undefined;
  if (runsHere(target)) command = [path];
  else if (target.arch === 'arm64') {
    const qemu = await findTool(['qemu-aarch64-static', 'qemu-aarch64']);
    const sysroot = '/usr/aarch64-linux-gnu';
    const ld = await stat(join(sysroot, 'lib/ld-linux-aarch64.so.1')).catch(() => undefined);
    if (qemu && ld) command = [qemu, '-L', sysroot, path];
  }
  const file = await execa('file', ['-b', path], { reject: false });
  const described =
    file.exitCode === 0 ? file.stdout.split(',').slice(0, 2).join(',') : `${target.format} machine ${machine}`;
  if (!command) return `${described} (cannot run it here)`;
  const cwd = await mkdtemp(join(tmpdir(), 'ogent-check-'));
  try {
    const run = await execa(command[0]!, [...command.slice(1), '--version'], {
      cwd,
      env: { PATH: '/usr/bin:/bin', HOME: cwd },
      extendEnv: false,
      reject: false,
      timeout: 60_000,
    });
    const want = expectedVersionLine(version, target);
    if (run.exitCode !== 0 || run.stdout.trim() !== want || run.stderr.trim() !== '')
      throw new Error(
        `${path} --version: exit ${run.exitCode}, stdout ${JSON.stringify(run.stdout)}, ` +
          `stderr ${JSON.stringify(run.stderr)}; expected ${JSON.stringify(want)}`,
      );
    return `${described}; --version${command.length > 1 ? ' (qemu)' : ''}: ${want}`;
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
}

export async function packageBinaries(options: PackageOptions): Promise<Packaged[]> {
  const log = options.log ?? ((line: string) => process.stderr.write(`package: ${line}\n`));
  const { root } = options;
  const names = options.targets?.length ? options.targets : DEFAULT_TARGETS;
  const targets = names.map((name) => {
    const target = TARGETS[name];
    if (!target) throw new Error(`unknown target ${name} (known: ${Object.keys(TARGETS).join(', ')})`);
    return target;
  });
  const host = Object.values(TARGETS).find(runsHere);
  const pjson = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
    name: string;
    version: string;
    type?: string;
    oclif: Record<string, unknown>;
  };

  await mkdir(distDir(root), { recursive: true });
  const work = await mkdtemp(join(distDir(root), '.build-'));
  const results: Packaged[] = [];
  try {
    const main = join(work, 'ogent.cjs');
    // The binaries get this time as theirs: a source saved while they were being built makes them stale.
    const startedAt = new Date();
    await bundle({ root, outfile: main, pjson });
    log(`bundled ${(await stat(main)).size} bytes of JavaScript`);
    for (const target of targets) {
      const base = await baseNode(target, cacheDir(root), log);
      // The blob must be made by the very Node version it goes into; the code cache also by the same architecture.
      const native = runsHere(target);
      if (!native && !host) throw new Error(`cannot make a SEA blob for ${target.name} on ${process.arch}`);
      const maker = native ? base.path : (await baseNode(host!, cacheDir(root), log)).path;
      const codeCache = native && options.codeCache !== false;
      const blob = join(work, `${target.name}.blob`);
      const config = join(work, `${target.name}.sea.json`);
      await writeFile(
        config,
        JSON.stringify({ main, output: blob, disableExperimentalSEAWarning: true, useCodeCache: codeCache }),
      );
      await execa(maker, ['--experimental-sea-config', config], { cwd: work });
      const out = join(work, `ogent-${target.name}${target.extension}`);
      await copyFile(base.path, out);
      await chmod(out, 0o755);
      const data = await readFile(blob);
      await quietly(() => inject(out, 'NODE_SEA_BLOB', data, { sentinelFuse: FUSE }));
      const checked = await check(out, target, pjson.version);
      const path = join(options.outDir ?? distDir(root), basename(binaryPath(root, target.name)));
      const sha256 = await sha256File(out);
      await utimes(out, startedAt, startedAt);
      await rename(out, path);
      await writeFile(join(work, 'sha'), `${sha256}  ${basename(path)}\n`);
      await rename(join(work, 'sha'), `${path}.sha256`);
      const bytes = (await stat(path)).size;
      results.push({ target: target.name, path, sha256, bytes, stripped: base.stripped, codeCache, checked });
      log(
        `${path}: ${(bytes / 2 ** 20).toFixed(1)} MiB, Node ${NODE_VERSION}` +
          `${base.stripped ? ', stripped' : ''}${codeCache ? ', code cache' : ''}; ${checked}`,
      );
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return results;
}

/** Newest modification time of the files the binary is made of. */
async function newestInput(root: string): Promise<number> {
  let newest = 0;
  const consider = async (path: string) => {
    const s = await stat(path).catch(() => undefined);
    if (s?.isFile()) newest = Math.max(newest, s.mtimeMs);
  };
  for (const dir of ['src', 'scripts/package']) {
    for (const entry of await readdir(join(root, dir), { recursive: true })) await consider(join(root, dir, entry));
  }
  for (const file of ['scripts/package.ts', 'package.json', 'package-lock.json']) await consider(join(root, file));
  return newest;
}

/** Is dist/ogent-<target> there and newer than every source it is built from? */
export async function isFresh(root: string, target: string): Promise<boolean> {
  const built = await stat(binaryPath(root, target)).catch(() => undefined);
  const sum = await stat(`${binaryPath(root, target)}.sha256`).catch(() => undefined);
  if (!built || !sum) return false;
  return built.mtimeMs > (await newestInput(root));
}
