import { createInterface } from 'node:readline/promises';
import type { Job, Plan } from '../domain/model.js';
import { EXIT, usageError, UserError, type ExitCode } from '../lib/errors.js';
import type { JobRequest } from '../protocol/events.js';
import type { PlanApproval, PlanRequest } from '../protocol/plans.js';
import { planText } from '../ui/renderers.js';
import type { Session } from './credentials.js';
import type { Io, OutputMode } from './exec-service.js';
import { apiError, request } from './http.js';

/** `exec --ai` (the model writes the command) or `--review` (it reviews yours), README, AI command processing. */
export interface AiOptions {
  mode: 'generate' | 'review';
  dryRun: boolean;
  allowHighRisk: boolean;
  yes: boolean;
}

export interface PlanDeps {
  /** Whether a person can answer a prompt (stdin and stderr are terminals). */
  interactive?: boolean;
  ask?: (question: string) => Promise<string>;
}

async function askOnTerminal(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await rl.question(question);
  } finally {
    rl.close();
  }
}

/** The AI may take a while; the controller has its own, shorter, --ai-timeout. */
const PLAN_TIMEOUT_MS = 300_000;

async function post<T>(session: Session, path: string, body: unknown, what: string): Promise<T> {
  const token = await session.token();
  const res = await request<T & { error?: string; message?: string }>(session.controller, path, {
    method: 'POST',
    token,
    body,
    timeoutMs: PLAN_TIMEOUT_MS,
  });
  if (res.status === 201) return res.body;
  const error = res.body?.error;
  const message = res.body?.message ?? `HTTP ${res.status}`;
  if (error === 'ai_not_configured') throw usageError(message);
  if (error === 'high_risk') throw usageError(`${message}; nothing was run`);
  if (error === 'ai_unavailable' || error === 'ai_invalid_answer') {
    throw new UserError(`${what}: ${message}`, { code: 'ERR_AI', exit: EXIT.runsFailed });
  }
  throw apiError(res.status, res.body, what);
}

/**
 * Asks the controller for a plan, shows it, has it confirmed (`--yes`, or a prompt on a terminal) and runs it.
 * Returns the job, or the exit code when nothing ran. A plan is never run unconfirmed, nor a high-risk one
 * without `--allow-high-risk`.
 */
export async function runPlan(
  job: JobRequest,
  ai: AiOptions,
  session: Session,
  io: Io,
  mode: OutputMode,
  deps: PlanDeps = {},
): Promise<Job | ExitCode> {
  const input: PlanRequest =
    ai.mode === 'generate'
      ? { mode: 'generate', request: job.command ?? '', job: { ...job, command: undefined } }
      : { mode: 'review', job };
  const plan = await post<Plan>(session, '/api/v1/plans', input, ai.mode === 'generate' ? 'ai' : 'review');
  const total = plan.proposals.reduce((n, p) => n + p.agents.length, 0);

  if (ai.dryRun) {
    io.stdout.write(mode === 'json' ? `${JSON.stringify(plan, null, 2)}\n` : planText(plan));
    io.stderr.write('dry run: nothing was run\n');
    return EXIT.ok;
  }
  io.stderr.write(planText(plan));
  if (plan.risk === 'high' && !ai.allowHighRisk) {
    throw usageError('the plan is high risk: nothing was run', 'read it, then pass --allow-high-risk to run it');
  }
  let confirmedWith: PlanApproval['confirmedWith'];
  if (ai.yes) confirmedWith = 'yes';
  else if (deps.interactive ?? (process.stdin.isTTY === true && process.stderr.isTTY === true)) {
    const answer = await (deps.ask ?? askOnTerminal)(`Run it on ${total} target${total === 1 ? '' : 's'}? [y/N] `);
    if (!/^y(es)?$/i.test(answer.trim())) {
      io.stderr.write('not run\n');
      return EXIT.runsFailed;
    }
    confirmedWith = 'prompt';
  } else {
    throw usageError(
      'not confirmed, so nothing was run: there is no terminal to ask on',
      'pass --yes to run it from a script, or --dry-run to only see it',
    );
  }
  const approval: PlanApproval = { confirmedWith, allowHighRisk: ai.allowHighRisk };
  return post<Job>(session, `/api/v1/plans/${encodeURIComponent(plan.id)}/run`, approval, 'run plan');
}

/** The AI flags of `exec`; undefined without `--ai` or `--review`. */
export function aiOptions(flags: {
  ai?: boolean;
  review?: boolean;
  'dry-run'?: boolean;
  'allow-high-risk'?: boolean;
  yes?: boolean;
}): AiOptions | undefined {
  if (!flags.ai && !flags.review) {
    if (flags['dry-run'] || flags['allow-high-risk']) {
      throw usageError('--dry-run and --allow-high-risk go with --ai or --review');
    }
    return undefined;
  }
  return {
    mode: flags.ai ? 'generate' : 'review',
    dryRun: flags['dry-run'] === true,
    allowHighRisk: flags['allow-high-risk'] === true,
    yes: flags.yes === true,
  };
}
