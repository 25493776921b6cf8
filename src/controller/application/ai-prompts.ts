import type { JobSpec } from '../../domain/job-spec.js';
import { RISKS, type Risk } from '../../domain/model.js';
import type { OsFamily } from '../../domain/os-family.js';
import { LIMITS } from '../../protocol/events.js';
import { array, object, oneOf, parse, PayloadError, str } from '../../protocol/validate.js';
import type { ChatMessage } from './ports.js';

/** What the model must answer: a command (when generating) and its risk review. */
export interface AiAnswer {
  command?: string;
  explanation: string;
  risk: Risk;
  risks: string[];
}

export class AnswerError extends Error {
  override name = 'AnswerError';
}

const RISK_SCALE =
  '"risk": "low" if it only reads, "medium" if it changes something that is easy to undo, ' +
  '"high" if it may destroy data, lock anyone out, stop a service or cannot be undone; ' +
  '"risks": a list of short strings, each something that could go wrong (empty when nothing can)';

const shellOf = (spec: Pick<JobSpec, 'executor'>) =>
  spec.executor === 'ssh' ? "the remote user's login shell, over SSH" : '/bin/sh -c';

/** Messages asking for one command for the targets of `family`. */
export function generateMessages(family: OsFamily, spec: Pick<JobSpec, 'executor'>, request: string): ChatMessage[] {
  return [
    {
      role: 'system',
      content: [
        "You turn a system administrator's request into one shell command for this host:",
        `${family.description}.`,
        `The command runs through ${shellOf(spec)}, non-interactively: no terminal, no input, no prompts.`,
        'Prefer a command that only reads when the request allows it. Use sudo only if the request asks for it.',
        'Answer with exactly one JSON object and nothing else, with the keys',
        '"command": the command line; "explanation": what it does, in one or two sentences;',
        `${RISK_SCALE}.`,
      ].join('\n'),
    },
    { role: 'user', content: request },
  ];
}

/** Messages asking for a risk review of the job's own command on the targets of `family`. */
export function reviewMessages(family: OsFamily, spec: JobSpec): ChatMessage[] {
  const what =
    spec.executor === 'exec'
      ? `This program and its arguments, run without a shell: ${spec.command}`
      : spec.executor === 'script'
        ? `This script, run through its shebang line${spec.args ? ` with the arguments ${spec.command}` : ''}:\n${spec.script ?? ''}`
        : `This command, run through ${shellOf(spec)}:\n${spec.command}`;
  return [
    {
      role: 'system',
      content: [
        'You review a command before it runs, non-interactively, on this host:',
        `${family.description}.`,
        'Answer with exactly one JSON object and nothing else, with the keys',
        '"explanation": what it does, in one or two sentences;',
        `${RISK_SCALE}.`,
      ].join('\n'),
    },
    { role: 'user', content: what },
  ];
}

const noNul = /^[^\0]*$/;
const reviewCheck = object({
  explanation: str({ min: 1, max: 4000 }),
  risk: oneOf(RISKS),
  risks: array(str({ max: 1000 }), { max: 50 }),
});
const generatedCheck = object({
  command: str({ min: 1, max: LIMITS.commandBytes, pattern: noNul }),
  explanation: str({ min: 1, max: 4000 }),
  risk: oneOf(RISKS),
  risks: array(str({ max: 1000 }), { max: 50 }),
});

/** Parses the model's reply strictly: one JSON object with every key of the right type, or AnswerError. */
export function parseAnswer(text: string, mode: 'generate' | 'review'): AiAnswer {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new AnswerError(`the AI's answer is not JSON: ${JSON.stringify(text.slice(0, 200))}`);
  }
  try {
    if (mode === 'review') return parse(reviewCheck, value);
    const answer = parse(generatedCheck, value);
    if (answer.command.trim() === '') throw new PayloadError('command is empty');
    return { ...answer, command: answer.command.trim() };
  } catch (err) {
    if (err instanceof PayloadError) {
      throw new AnswerError(`the AI's answer is not valid: ${err.message}: ${JSON.stringify(text.slice(0, 200))}`);
    }
    throw err;
  }
}
