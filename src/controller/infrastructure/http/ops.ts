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
  /** The controller's own CA certificate (PEM), served on `GET /ca.pem`; undefined with `--tls-cert` or plain HTTP. */
  caPem?: string;
  /** Set during a graceful shutdown: not ready any more, so load balancers move on. */
  shuttingDown(): boolean;
}

/** `GET /readyz`, `GET /metrics` and `GET /ca.pem` (without authentication, like `/healthz`). */
export function addOpsRoutes(router: Router, deps: OpsDeps): Router {
  return (
    router
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
      // Public: an agent checks what it gets against the fingerprint in its join token (docs/protocol.md).
      .on('GET', '/ca.pem', async () => {
        if (!deps.caPem) {
          return {
            status: 404,
            body: {
              error: 'not_found',
              message: 'this controller does not serve its own CA (--tls-cert, or plain HTTP)',
            },
          };
        }
        return { status: 200, text: deps.caPem, headers: { 'content-type': 'application/x-pem-file' } };
      })
      .on('GET', '/metrics', async () => {
        if (!deps.metrics) {
          return {
            status: 404,
            body: { error: 'not_found', message: 'metrics are off (controller serve --no-metrics)' },
          };
        }
        return { status: 200, text: await deps.metrics.text(), headers: { 'content-type': deps.metrics.contentType } };
      })
  );
}
