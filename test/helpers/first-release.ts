import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, realpath, rename, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The first release, 0.1.0, as this repository's history has it (README "Versions and upgrades"). */
export const FIRST_RELEASE_COMMIT = '2c84d71';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * `bin/run.js` of the first release, built from this repository's own history: `git archive` of the commit, today's
 * node_modules linked in (its dependencies are today's), `tsc`. Kept in node_modules/.cache/ogent-first-release/COMMIT
 * so that a machine (or CI with a cached node_modules) builds it once; a build interrupted halfway is never used.
 */
export async function firstReleaseBin(): Promise<string> {
  const commit = await fullCommit();
  const modules = await realpath(join(ROOT, 'node_modules'));
  const cache = join(modules, '.cache', 'ogent-first-release', commit);
  const bin = join(cache, 'bin', 'run.js');
  if (existsSync(join(cache, 'lib', 'commands.js'))) return bin;
  const building = `${cache}.building-${process.pid}`;
  await rm(building, { recursive: true, force: true });
  await mkdir(building, { recursive: true });
  try {
    await run('sh', ['-c', 'git -C "$1" archive "$2" | tar -x -C "$3"', 'sh', ROOT, commit, building]);
    await symlink(modules, join(building, 'node_modules'), 'dir');
    await run(process.execPath, [join(modules, 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], {
      cwd: building,
    });
    const { version } = JSON.parse(await readFile(join(building, 'package.json'), 'utf8')) as { version: string };
    if (version !== '0.1.0') throw new Error(`commit ${commit} is version ${version}, not the first release`);
    // Its oclif.manifest.json was committed with it: no `oclif manifest` needed.
    await rename(building, cache).catch(async (err: NodeJS.ErrnoException) => {
      // Another test process finished first: its build is the same.
      if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
      await rm(building, { recursive: true, force: true });
    });
  } catch (err) {
    await rm(building, { recursive: true, force: true });
    throw err;
  }
  return bin;
}

async function fullCommit(): Promise<string> {
  try {
    const { stdout } = await run('git', ['-C', ROOT, 'rev-parse', '--verify', `${FIRST_RELEASE_COMMIT}^{commit}`]);
    return stdout.trim();
  } catch (err) {
    throw new Error(
      `the first release (commit ${FIRST_RELEASE_COMMIT}) is not in this clone: fetch the full history (git fetch --unshallow; in CI, fetch-depth: 0)\n${(err as Error).message}`,
    );
  }
}
