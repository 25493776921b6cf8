import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** `npm run bench -- --smoke --json roundtrip stall`, as CI may run it: the benchmark scripts keep working. */
describe('benchmarks (smoke)', function () {
  this.timeout(60_000);

  it('runs roundtrip and stall at tiny size and prints one JSON object of named figures', async () => {
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
      (resolve, reject) => {
        const child = spawn(
          process.execPath,
          ['--import', 'tsx', 'scripts/bench/index.ts', '--smoke', '--json', 'roundtrip', 'stall'],
          { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
        );
        let out = '';
        let err = '';
        child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
        child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
        child.on('error', reject);
        child.on('close', (c) => resolve({ code: c, stdout: out, stderr: err }));
      },
    );
    expect(code, stderr).to.equal(0);
    const report = JSON.parse(stdout) as {
      smoke: boolean;
      figures: Record<string, { median: number; n: number; floor?: { median: number }; goal?: string }>;
    };
    expect(report.smoke).to.equal(true);
    const exec = report.figures['roundtrip.exec_ms'];
    expect(exec?.n).to.be.greaterThan(0);
    expect(exec?.median).to.be.greaterThan(0);
    expect(exec?.floor?.median).to.be.greaterThan(0);
    expect(exec?.goal).to.be.a('string');
    expect(report.figures).to.have.property('roundtrip.version_ms');
    // The stalled link: the agent held back what its command wrote (bounded, not the whole second of writing).
    const unsent = report.figures['stall.unsent_mb'];
    expect(unsent?.n).to.equal(1);
    expect(unsent?.median).to.be.greaterThan(0).and.lessThan(64);
  });
});
