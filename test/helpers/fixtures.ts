import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent, type RunningAgent } from '../../src/agent/index.js';
import { startController, type ControllerOptions, type RunningController } from '../../src/controller/index.js';
import { login } from '../../src/client/http.js';
import { silentLogger } from '../../src/lib/log.js';

export const ADMIN_PASSWORD = 'admin-password-1';

/** Collects things to close/remove; call `cleanup()` in afterEach. */
export class Fixtures {
  private readonly closers: Array<() => Promise<void>> = [];

  async tempDir(prefix = 'ogent-test-'): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), prefix));
    this.closers.push(() => rm(dir, { recursive: true, force: true }));
    return dir;
  }

  defer(fn: () => Promise<void> | void): void {
    this.closers.push(async () => fn());
  }

  async controller(options: Partial<ControllerOptions> = {}): Promise<RunningController> {
    const dataDir = options.dataDir ?? (await this.tempDir());
    const controller = await startController({
      host: '127.0.0.1',
      port: 0,
      dataDir,
      tokenTtlSeconds: 3600,
      adminPassword: ADMIN_PASSWORD,
      log: silentLogger,
      ...options,
    });
    this.closers.push(() => controller.close());
    return controller;
  }

  /** The environment of a `bin/run.js` client logged in as the admin of `controller`, with a config dir of its own. */
  async cliEnv(controller: RunningController): Promise<Record<string, string>> {
    return {
      OGENT_CONTROLLER: controller.url,
      OGENT_USERNAME: 'admin',
      OGENT_PASSWORD: ADMIN_PASSWORD,
      XDG_CONFIG_HOME: await this.tempDir(),
    };
  }

  async adminToken(controller: RunningController): Promise<string> {
    return (await login(controller.url, 'admin', ADMIN_PASSWORD)).access_token;
  }

  /** Creates the agent user (role agent) and starts an in-process agent connected to the controller. */
  async agent(
    controller: RunningController,
    name: string,
    labels: Record<string, string> = {},
    stateDir: string | null = null,
  ): Promise<RunningAgent> {
    const password = `pw-${name}-123456`;
    if (!(await controller.auth.listUsers({ name: 'admin', role: 'admin' })).some((u) => u.name === name)) {
      await controller.auth.addUser({ name: 'admin', role: 'admin' }, name, 'agent', password);
    }
    const { passwordTokens } = await import('../../src/agent/index.js');
    const agent = await startAgent({
      controller: controller.url,
      name,
      labels,
      stateDir,
      tokens: passwordTokens(controller.url, name, password),
      log: silentLogger,
      minDelayMs: 50,
      maxDelayMs: 500,
    });
    this.closers.push(() => agent.stop());
    await agent.ready;
    return agent;
  }

  async cleanup(): Promise<void> {
    for (const close of this.closers.splice(0).reverse()) {
      await close().catch(() => {});
    }
  }
}

/** Polls `check` until it returns a truthy value or `timeoutMs` passes (then throws with `what`). */
type Falsy = false | null | undefined | 0 | '';
export async function waitFor<T>(
  check: () => T | Promise<T>,
  what: string,
  timeoutMs = 10_000,
): Promise<Exclude<T, Falsy>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as Exclude<T, Falsy>;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
