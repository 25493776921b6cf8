import type { RunningAgent } from '../agent/index.js';
import { StartupError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import type { AuthService } from './application/auth-service.js';
import { generatePassword } from './application/passwords.js';
import type { UserRepository } from './application/ports.js';

/**
 * `--local-agent`: an agent inside the controller process, with an in-memory spool and tokens from
 * `AuthService.issueFor`. The agent's code is loaded only then.
 */
export async function startLocalAgent(
  local: true | { name?: string; labels?: Record<string, string> },
  ctx: { url: string; tls: boolean; auth: AuthService; users: UserRepository; log: Logger },
): Promise<RunningAgent> {
  const { startAgent } = await import('../agent/index.js');
  const { defaultAgentName } = await import('../agent/facts.js');
  const { auth, log } = ctx;
  const settings = typeof local === 'object' ? local : {};
  const name = settings.name ?? defaultAgentName();
  const existing = await ctx.users.get(name);
  if (existing && existing.role !== 'agent') {
    throw new StartupError(`--local-agent: user "${name}" exists with role ${existing.role}; pass another agent name`);
  }
  if (!existing) await auth.addUser({ name: 'controller', role: 'admin' }, name, 'agent', generatePassword());
  const agent = await startAgent({
    controller: ctx.url,
    name,
    labels: settings.labels ?? {},
    stateDir: null,
    tokens: { get: async () => (await auth.issueFor(name)).token },
    // Its own listening socket on loopback: the certificate may name only the public host, so it is not checked.
    ...(ctx.tls ? { tls: { rejectUnauthorized: false } } : {}),
    log,
    minDelayMs: 200,
    maxDelayMs: 2000,
  });
  await agent.ready;
  return agent;
}
