import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Figure } from './figures.js';

export interface BenchContext {
  /** Tiny sizes and single repetitions: checks that the scripts work, measures nothing worth keeping. */
  smoke: boolean;
  /** A scratch directory of this benchmark, removed after the run. */
  dir: string;
  /** `full` repetitions, or `smoke` in smoke mode. */
  reps(full: number, smoke?: number): number;
  /** Progress, on stderr. */
  log(message: string): void;
  /** A fresh sub-directory of `dir`. */
  sub(name: string): Promise<string>;
  /** Reports figures as soon as they are known, so a later failure of the same benchmark does not lose them. */
  add(...figures: Figure[]): void;
  readonly figures: Figure[];
}

export interface Benchmark {
  name: string;
  summary: string;
  /** Figures: returned, or reported with `ctx.add` as they come. */
  run(ctx: BenchContext): Promise<Figure[] | void>;
}

export function context(name: string, dir: string, smoke: boolean, maxRounds = Infinity): BenchContext {
  let n = 0;
  const figures: Figure[] = [];
  return {
    figures,
    add: (...more) => void figures.push(...more),
    smoke,
    dir,
    reps: (full, smokeReps = 1) => (smoke ? smokeReps : Math.min(full, maxRounds)),
    log: (message) => process.stderr.write(`[${name}] ${message}\n`),
    async sub(what) {
      const path = join(dir, `${++n}-${what}`);
      await mkdir(path, { recursive: true });
      return path;
    },
  };
}

/** Runs `steps` in turn `reps` times (interleaved, so a floor and its figure see the same machine load). */
export async function interleave(reps: number, steps: Array<() => Promise<void>>): Promise<void> {
  for (let i = 0; i < reps; i++) for (const step of steps) await step();
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
