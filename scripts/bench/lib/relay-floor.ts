import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, start, stop, waitForOutput } from './proc.js';

/** The first line of a child's stderr that matches (its stdout carries the data: not scanned). */
const stderrLine = (child: ChildProcess, pattern: RegExp, what: string) =>
  new Promise<string>((resolve, reject) => {
    let err = '';
    const onData = (d: Buffer) => {
      err += d.toString();
      const m = pattern.exec(err);
      if (m) {
        child.stderr?.off('data', onData);
        resolve(m[0]);
      }
    };
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${what} exited (${code}): ${err.slice(-2000)}`)));
  });

const SCRIPT = `${ROOT}scripts/bench/sio-relay.ts`;

/** One relay of `size` bytes through socket.io alone (sio-relay.ts): producer start → last byte at the consumer, MB/s. */
export async function relayFloor(size: number, mode: 'text' | 'binary'): Promise<number> {
  const tsx = ['--import', 'tsx', SCRIPT];
  const relay = start(process.execPath, [...tsx, 'relay'], { cwd: ROOT });
  try {
    const url = (await waitForOutput(relay, /listening on (http:\S+)/, 'relay'))[1] as string;
    // What it receives goes to a file, as `exec`'s output does in the same benchmark.
    const out = join(tmpdir(), `ogent-relay-${process.pid}.out`);
    const fd = openSync(out, 'w');
    const consumer = start(process.execPath, [...tsx, 'consumer', url, String(size)], {
      cwd: ROOT,
      stdio: ['ignore', fd, 'pipe'],
    });
    closeSync(fd);
    const producer = start(process.execPath, [...tsx, 'producer', url, mode, String(size)], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    try {
      await Promise.all([
        stderrLine(consumer, /connected/, 'relay consumer'),
        waitForOutput(producer, /connected/, 'relay producer'),
      ]);
      const started = stderrLine(producer, /\{"t0":[\d.]+\}/, 'relay producer');
      const ended = stderrLine(consumer, /\{"t1":[\d.]+,"got":\d+\}/, 'relay consumer');
      producer.stdin?.write('go\n');
      const { t0 } = JSON.parse(await started) as { t0: number };
      const { t1 } = JSON.parse(await ended) as { t1: number };
      return size / 1e6 / ((t1 - t0) / 1000);
    } finally {
      await Promise.all([stop(producer), stop(consumer)]);
      rmSync(out, { force: true });
    }
  } finally {
    await stop(relay);
  }
}
