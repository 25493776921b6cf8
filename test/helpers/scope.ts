import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ProcessScope {
  /** A fresh temporary directory for each test, removed after it. */
  readonly root: string;
  /** Kills this process (SIGKILL) after the test, the newest first. */
  track<T extends { stop(signal?: NodeJS.Signals): Promise<unknown> }>(daemon: T): T;
  /** Runs `stop` after the test (before the directory goes). */
  defer(stop: () => unknown): void;
}

/** Registers mocha hooks that give each test a temporary directory and kill the processes it tracked. */
export function processScope(prefix: string): ProcessScope {
  const stops: Array<() => Promise<unknown>> = [];
  let root = '';
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), prefix));
  });
  afterEach(async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => {});
    await rm(root, { recursive: true, force: true });
  });
  return {
    get root() {
      return root;
    },
    track(daemon) {
      stops.push(() => daemon.stop('SIGKILL'));
      return daemon;
    },
    defer(stop) {
      stops.push(async () => stop());
    },
  };
}
