import type { Router } from './router.js';

/** A readiness check: resolves when its dependency is usable, else throws saying why. */
export interface ReadinessCheck {
  name: string;
  check(): Promise<void>;
}

export interface OpsDeps {
  /** Prometheus exposition; undefined when the controller runs with `--no-metrics`. */
  metrics?: { contentType: string; text(): Promise<string> };
  checks: ReadinessCheck[];
  /** Set during a graceful shutdown: not ready any more, so load balancers move on. */
  shuttingDown(): boolean;
}

/** `GET /readyz` and `GET /metrics` (both without authentication, like `/healthz`). */
export function addOpsRoutes(router: Router, deps: OpsDeps): Router {
  return router
    .on('GET', '/readyz', async () => {
      const checks: Record<string, string> = {};
      if (deps.shuttingDown()) checks.shutdown = 'the controller is shutting down';
      await Promise.all(
        deps.checks.map(async ({ name, check }) => {
          try {
            await check();
            checks[name] = 'ok';
          } catch (err) {
            checks[name] = (err as Error).message;
          }
        }),
      );
      const ready = Object.values(checks).every((c) => c === 'ok');
      return { status: ready ? 200 : 503, body: { status: ready ? 'ready' : 'not_ready', checks } };
    })
    .on('GET', '/metrics', async () => {
      if (!deps.metrics) {
        return {
          status: 404,
          body: { error: 'not_found', message: 'metrics are off (controller serve --no-metrics)' },
        };
      }
      return { status: 200, text: await deps.metrics.text(), headers: { 'content-type': deps.metrics.contentType } };
    });
}
