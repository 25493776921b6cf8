import { newId } from '../../domain/ids.js';
import type { JobSpec } from '../../domain/job-spec.js';
import { RISKS, type Agent, type AiProposal, type Job, type JobAi, type Plan, type Risk } from '../../domain/model.js';
import { osFamilyOf, SSH_FAMILY, type OsFamily } from '../../domain/os-family.js';
import type { Target } from '../../domain/targets.js';
import type { Logger } from '../../lib/log.js';
import type { PlanApproval, PlanRequest } from '../../protocol/plans.js';
import { AnswerError, generateMessages, parseAnswer, reviewMessages } from './ai-prompts.js';
import { requireRole } from './auth-service.js';
import { AppError, badRequest, notFound } from './errors.js';
import type { JobService } from './job-service.js';
import { AiError, type ChatModel, type Identity } from './ports.js';

interface StoredPlan {
  plan: Plan;
  request: PlanRequest['job'];
  /** The command per target id. */
  commands: Record<string, string>;
}

const NOT_CONFIGURED =
  'AI is not configured on this controller: start it with `ogent controller serve --ai-base-url URL --ai-model MODEL` ' +
  '(and OGENT_AI_API_KEY when the endpoint needs a key)';

const maxRisk = (risks: Risk[]): Risk => RISKS[Math.max(0, ...risks.map((r) => RISKS.indexOf(r)))] ?? 'high';

/**
 * AI command processing (README, AI command processing): asks the model for a command (or a review of the given one) per OS family among
 * the targets, keeps the result as a plan the user confirms, and runs exactly that plan as a job. A reply that does
 * not validate is an error; nothing is kept or run.
 */
export class PlanService {
  private readonly plans = new Map<string, StoredPlan>();

  constructor(
    private readonly model: ChatModel | null,
    private readonly jobs: JobService,
    private readonly log: Logger,
    private readonly ttlMs = 10 * 60_000,
  ) {}

  async create(input: PlanRequest, actor: Identity, agents: Agent[]): Promise<Plan> {
    requireRole(actor, 'operator', 'run jobs');
    const model = this.model;
    if (!model) throw new AppError('ai_not_configured', NOT_CONFIGURED);
    const request = this.jobRequest(input);
    const { spec, targets } = this.jobs.resolve(request, agents);

    const infoById = new Map(agents.map((a) => [a.id, a.info]));
    const families = new Map<string, { family: OsFamily; targets: Target[] }>();
    for (const target of targets) {
      const family = target.via ? SSH_FAMILY : osFamilyOf(infoById.get(target.id) ?? null);
      const group = families.get(family.key) ?? { family, targets: [] };
      group.targets.push(target);
      families.set(family.key, group);
    }
    const groups = [...families.values()].sort((a, b) => a.family.key.localeCompare(b.family.key));
    const proposals = await Promise.all(groups.map((g) => this.ask(model, input, spec, g.family, g.targets)));

    const commands: Record<string, string> = {};
    groups.forEach((group, i) => {
      for (const target of group.targets) commands[target.id] = proposals[i]?.command ?? spec.command;
    });
    const now = Date.now();
    const plan: Plan = {
      id: newId('p', now),
      mode: input.mode,
      ...(input.request ? { request: input.request } : {}),
      model: model.model,
      executor: spec.executor,
      target: request.target,
      proposals,
      risk: maxRisk(proposals.map((p) => p.risk)),
      createdBy: actor.name,
      createdAt: new Date(now).toISOString(),
      expiresAt: new Date(now + this.ttlMs).toISOString(),
    };
    this.prune(now);
    this.plans.set(plan.id, { plan, request, commands });
    this.log.info('plan made', { planId: plan.id, by: actor.name, mode: plan.mode, risk: plan.risk });
    return plan;
  }

  /** Runs a plan its author confirmed, once; a high-risk plan only with `allowHighRisk`. */
  async run(id: string, approval: PlanApproval, actor: Identity, agents: Agent[]): Promise<Job> {
    requireRole(actor, 'operator', 'run jobs');
    this.prune(Date.now());
    const stored = this.plans.get(id);
    if (!stored || stored.plan.createdBy !== actor.name) {
      throw notFound(
        `no plan "${id}": a plan runs once, within ${Math.round(this.ttlMs / 60_000)} min; make a new one`,
      );
    }
    const { plan } = stored;
    if (plan.risk === 'high' && !approval.allowHighRisk) {
      throw new AppError('high_risk', 'the plan is high risk: confirm it with --allow-high-risk');
    }
    this.plans.delete(id);
    const ai: JobAi = {
      mode: plan.mode,
      ...(plan.request ? { request: plan.request } : {}),
      model: plan.model,
      proposals: plan.proposals,
      confirmedBy: actor.name,
      confirmedAt: new Date().toISOString(),
      confirmedWith: approval.confirmedWith,
      allowHighRisk: approval.allowHighRisk,
    };
    return this.jobs.create(stored.request, actor, agents, undefined, { commands: stored.commands, ai });
  }

  /** The job request the plan runs; in `generate` mode the request stands in for the command until the model answers. */
  private jobRequest(input: PlanRequest): PlanRequest['job'] {
    const { job } = input;
    if (input.mode === 'review') {
      if (input.request !== undefined) throw badRequest('request applies only to mode "generate"');
      return job;
    }
    if (!input.request) throw badRequest('request is required: what to do, in words');
    if (job.command !== undefined || job.args !== undefined || job.script !== undefined) {
      throw badRequest('in mode "generate" the AI writes the command: give no command, args or script');
    }
    if (job.executor !== 'shell' && job.executor !== 'ssh') {
      throw badRequest(`the AI writes shell commands: use the shell or ssh executor, not ${job.executor}`);
    }
    return { ...job, command: input.request };
  }

  private async ask(
    model: ChatModel,
    input: PlanRequest,
    spec: JobSpec,
    family: OsFamily,
    targets: Target[],
  ): Promise<AiProposal> {
    const messages =
      input.mode === 'generate' ? generateMessages(family, spec, input.request ?? '') : reviewMessages(family, spec);
    let answer;
    try {
      answer = parseAnswer(await model.completeJson(messages), input.mode);
    } catch (err) {
      if (err instanceof AiError) throw new AppError('ai_unavailable', err.message);
      if (err instanceof AnswerError) {
        this.log.warn('AI answer refused', { family: family.key, error: err.message });
        throw new AppError('ai_invalid_answer', `${err.message}; nothing was run`);
      }
      throw err;
    }
    return {
      os: `${family.key}: ${family.description}`,
      agents: targets.map((t) => t.name),
      command: answer.command ?? spec.command,
      explanation: answer.explanation,
      risk: answer.risk,
      risks: answer.risks,
    };
  }

  private prune(now: number): void {
    for (const [id, stored] of this.plans) if (Date.parse(stored.plan.expiresAt) <= now) this.plans.delete(id);
  }
}
