import { request } from 'node:http';
import { interleave, sleep, type Benchmark } from './lib/bench.js';
import { ADMIN_PASSWORD, prepareDataDir, startController } from './lib/fleet.js';
import { one, percentile, spread, type Figure } from './lib/figures.js';

/** One `POST /token` from a chosen loopback address: its status and round-trip time. */
function login(url: string, username: string, password: string, from: string): Promise<{ status: number; ms: number }> {
  const { hostname, port } = new URL(url);
  const body = JSON.stringify({ username, password });
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: hostname,
        port,
        path: '/token',
        method: 'POST',
        localAddress: from,
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0 }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The password spray of issue #20 row 4: failed logins at once, each with another user name, from one address. */
const SPRAY = 300;

/**
 * A real controller (`bin/run.js controller serve`) under a password spray: SPRAY parallel failed logins with
 * distinct names from one address, while the admin logs in again and again from another; the floor is the admin's
 * login with nothing else going on, in the same run. Each round sprays from a new address (an address that used up
 * its 50 failures is refused before any scrypt, so a second spray from it would cost nothing).
 */
export const loginSpray: Benchmark = {
  name: 'login',
  summary: `a user's login while ${SPRAY} parallel failed logins (distinct names, one address) hit the controller`,
  async run(ctx) {
    const dataDir = await ctx.sub('data');
    await prepareDataDir(dataDir, []);
    const controller = await startController(dataDir);
    const quiet: number[] = [];
    const underAttack: number[] = [];
    const sprayMs: number[] = [];
    const refused: number[] = [];
    const legitimate = async (into: number[]) => {
      const r = await login(controller.url, 'admin', ADMIN_PASSWORD, '127.0.0.2');
      if (r.status !== 200) throw new Error(`the admin's login answered ${r.status}`);
      into.push(r.ms);
    };
    try {
      ctx.log('warming up');
      await legitimate([]);
      let round = 0;
      const spraying = async () => {
        const from = `127.0.1.${++round}`;
        const t0 = performance.now();
        let over = false;
        const spray = Promise.all(
          Array.from({ length: ctx.smoke ? 30 : SPRAY }, (_, i) =>
            login(controller.url, `spray-${round}-${i}`, 'x', from),
          ),
        ).finally(() => (over = true));
        // The spray's requests are on their way first; then the admin logs in until the spray is answered.
        await sleep(20);
        do await legitimate(underAttack);
        while (!over);
        const answers = await spray;
        sprayMs.push(performance.now() - t0);
        refused.push(answers.filter((a) => a.status === 429).length);
        if (answers.some((a) => a.status !== 401 && a.status !== 429)) throw new Error('the spray got other answers');
      };
      const reps = ctx.reps(5, 1);
      ctx.log(`${reps} interleaved rounds: 10 quiet logins, then a spray of ${ctx.smoke ? 30 : SPRAY}`);
      await interleave(reps, [
        async () => {
          for (let i = 0; i < 10; i++) await legitimate(quiet);
        },
        spraying,
      ]);
      const value = spread(underAttack);
      const figures: Figure[] = [
        {
          key: 'login.under_attack_ms',
          label: `a user's login during the spray (every one of them)`,
          unit: 'ms',
          value,
          floor: { label: 'the same login, no spray', value: spread(quiet) },
          goal: { text: 'every one ≤ 1 s', met: value.max <= 1000 },
        },
        {
          key: 'login.under_attack_p95_ms',
          label: `the same, 95th percentile`,
          unit: 'ms',
          value: one(percentile(underAttack, 95)),
          floor: { label: 'no spray', value: one(percentile(quiet, 95)) },
          goal: { text: '≤ 1 s', met: percentile(underAttack, 95) <= 1000 },
        },
        {
          key: 'login.spray_ms',
          label: `the spray, sent → every attempt answered`,
          unit: 'ms',
          value: spread(sprayMs),
        },
        {
          key: 'login.spray_refused',
          label: `spray attempts refused with 429 before scrypt (of ${ctx.smoke ? 30 : SPRAY})`,
          unit: '',
          value: spread(refused),
        },
      ];
      return figures;
    } finally {
      await controller.stop();
    }
  },
};
