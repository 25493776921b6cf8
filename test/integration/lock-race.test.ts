import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { processScope } from '../helpers/scope.js';

const CONTENDER = fileURLToPath(new URL('../helpers/lock-contender.ts', import.meta.url));

interface Contender {
  child: ChildProcess;
  /** `held`, or `busy: MESSAGE`. */
  outcome: Promise<string>;
}

/** A real process, its modules loaded, waiting for the word to take the lock. */
function contender(kind: 'controller' | 'agent', dir: string): Promise<Contender> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CONTENDER, kind, dir], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let out = '';
    let settle: (line: string) => void = () => {};
    const outcome = new Promise<string>((r) => (settle = r));
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.startsWith('ready\n')) resolve({ child, outcome });
      const line = out.split('\n')[1];
      if (line) settle(line);
    });
    child.on('exit', (code) => reject(new Error(`contender exited with ${code}: ${out}`)));
  });
}

/** A pid that was just used by a process that has exited. */
function deadPid(): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-e', '']);
    child.on('exit', () => resolve(child.pid as number));
  });
}

/** Rounds of starters let go at once on a dir whose lock was left by a process that died. */
async function race(
  scope: ReturnType<typeof processScope>,
  kind: 'controller' | 'agent',
  dir: string,
  busy: RegExp,
): Promise<void> {
  const ROUNDS = 6;
  const STARTERS = 3;
  let holder: Contender | undefined;
  for (let round = 1; round <= ROUNDS; round++) {
    const starters = await Promise.all(Array.from({ length: STARTERS }, () => contender(kind, dir)));
    for (const s of starters) scope.defer(() => s.child.kill('SIGKILL'));
    // The last round's holder dies without letting go: its lock is stale when the starters go.
    if (holder) {
      const gone = new Promise((r) => holder?.child.once('exit', r));
      holder.child.kill('SIGKILL');
      await gone;
    }
    for (const s of starters) s.child.stdin?.write('go\n');
    const outcomes = await Promise.all(starters.map((s) => s.outcome));
    const held = starters.filter((_, i) => outcomes[i] === 'held');
    expect(held.length, `round ${round}: ${outcomes.join(' | ')}`).to.equal(1);
    for (const o of outcomes.filter((o) => o !== 'held')) expect(o).to.match(busy);
    holder = held[0];
  }
}

describe('locks hold against starters racing on a stale lock (real processes)', function () {
  // 18 processes each, started three at a time: about 50 s on a loaded 2-core machine.
  this.timeout(180_000);
  const scope = processScope('ogent-lock-race-');

  it('the controller data dir lock: exactly one of three starters at once holds it, every round', async () => {
    const dataDir = join(scope.root, 'data');
    await mkdir(dataDir);
    // What a controller that died leaves (an earlier version's lock file, its pid gone).
    await writeFile(join(dataDir, 'controller.lock'), `${await deadPid()}\n`);
    await race(scope, 'controller', dataDir, /^busy: data dir .* is in use by another controller \(pid \d+\)/);
  });

  it("an agent's state dir lock: the same", async () => {
    const stateDir = join(scope.root, 'state');
    // What an agent that died leaves: its lock entry, its pid gone.
    await mkdir(join(stateDir, 'agent.lock'), { recursive: true });
    await writeFile(join(stateDir, 'agent.lock', `${await deadPid()}-00ff`), '');
    await race(scope, 'agent', stateDir, /^busy: state dir .* is in use by another agent \(pid \d+\)$/);
  });
});
