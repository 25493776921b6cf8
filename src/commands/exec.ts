import { Args, Flags } from '@oclif/core';
import { resolveSession } from '../client/credentials.js';
import { runExec } from '../client/exec-service.js';
import { aiOptions } from '../client/exec-plan.js';
import { executorOptions } from '../client/executor-request.js';
import { forwardsStdin } from '../client/stdin-upload.js';
import { EXECUTORS } from '../domain/model.js';
import { outputMode } from '../client/live-follow.js';
import { parseLimit } from '../domain/limits.js';
import { usageError } from '../lib/errors.js';
import {
  BaseCommand,
  connectionFlags,
  durationFlag,
  groupFlag,
  jsonFlag,
  parseDuration,
  patienceFlag,
} from './base.js';
import { checkLocalFlags, givenFlags, localFlags, startLocal } from './exec-local.js';

export default class Exec extends BaseCommand {
  static override summary = 'Run a command on a set of agents and watch it finish.';
  static override description =
    'Exit codes: 0 every run succeeded, 1 a run did not succeed, 2 usage error, 3 authentication refused, ' +
    '4 controller unreachable, 5 the selector matched no agent. On a terminal it shows a live view: ' +
    '↑/↓ select an agent, Enter widens its output, c cancels the job, q detaches (exit 1; the job goes on). ' +
    'With --local, no controller or login is needed: a controller and an agent start inside this process, the ' +
    'command runs on this host as the invoking user, no credentials are read or stored, and nothing is left ' +
    'running when exec exits.';
  static override strict = false;
  static override examples = [
    {
      description: 'This host only, with no controller running and no login (as the invoking user)',
      command: '<%= config.bin %> exec --local -- uptime',
    },
    { description: 'Every agent', command: '<%= config.bin %> exec --all -- uptime' },
    {
      description: 'Web servers but web-3, as JSON',
      command: "<%= config.bin %> exec -t 'role=web' -t '!web-3' --json -- df -h /",
    },
    { description: 'Start and return at once', command: '<%= config.bin %> exec -t db-1 --async -- backup.sh' },
    {
      description: 'Two hosts at a time; stop after the first failure; wait 10 minutes for hosts that are offline',
      command:
        "<%= config.bin %> exec -t 'role=web' --max-concurrency 2 --max-errors 0 --deliver-within 10m -- ./upgrade.sh",
    },
    {
      description: 'A program and its arguments, no shell',
      command: '<%= config.bin %> exec --executor exec -t db-1 -- ls -la /tmp',
    },
    {
      description: 'A local script, with arguments',
      command: '<%= config.bin %> exec -t "role=web" --script ./deploy.sh -- v2.1',
    },
    {
      description: 'One canary first; then the rest, 10 at a time, a minute between batches',
      command: '<%= config.bin %> exec --all --canary 1 --max-concurrency 10 --batch-wait 1m -- ./upgrade.sh',
    },
    {
      description: 'An agentless host behind the agent gw-1',
      command: '<%= config.bin %> exec --executor ssh --via gw-1 --ssh-target admin@10.0.0.5 -- uptime',
    },
    {
      description: 'Let the AI write the command; see it and confirm',
      command: '<%= config.bin %> exec --all --ai "show the 5 largest files in /var/log"',
    },
    {
      description: 'Exit 4 if the controller does not answer within 5 seconds (default 30s)',
      command: '<%= config.bin %> exec --all --request-timeout 5s -- uptime',
    },
    {
      description: 'Write a local file to every web server (stdin goes to every run; -n sends none)',
      command: "cat app.conf | <%= config.bin %> exec -t 'role=web' -- 'cat > /etc/app.conf'",
    },
    {
      description: 'Give up after 30 seconds',
      command: "<%= config.bin %> exec -t 'web-*' --timeout 30s -- 'systemctl restart nginx'",
    },
  ];
  static override args = {
    command: Args.string({
      description: 'The shell command (quote it, or put it after --).',
      // Never taken from stdin (oclif reads a missing argument from a pipe): stdin goes to the runs.
      ignoreStdin: true,
    }),
  };
  static override flags = {
    ...connectionFlags,
    target: Flags.string({
      char: 't',
      multiple: true,
      // One value per -t, so `exec -t web-1 uptime` leaves `uptime` as the command.
      multipleNonGreedy: true,
      summary: 'Selector: comma-separated name globs or key=value labels (OR), `!` negates; repeat for AND.',
      helpValue: 'SELECTOR',
    }),
    all: Flags.boolean({ char: 'a', summary: 'Every known agent.' }),
    timeout: durationFlag('Kill the command on an agent after this long.', '5m'),
    env: Flags.string({
      multiple: true,
      multipleNonGreedy: true,
      summary: 'Environment variable for the command.',
      helpValue: 'K=V',
    }),
    json: jsonFlag,
    stream: Flags.boolean({ summary: 'Print NDJSON events as they happen.', exclusive: ['json', 'group'] }),
    group: groupFlag,
    async: Flags.boolean({ summary: 'Print the job id and exit at once; follow it with `ogent jobs wait ID`.' }),
    'no-tui': Flags.boolean({ summary: 'Plain prefixed lines even on a terminal.' }),
    patience: patienceFlag,
    'max-concurrency': Flags.string({
      summary: 'At most this many runs at once, a count or a share of the targets (25%); the next starts as one ends.',
      helpValue: 'N|N%',
    }),
    'max-errors': Flags.string({
      summary: 'Once more runs than this have not succeeded, skip the runs not yet started (N or N%).',
      helpValue: 'N|N%',
    }),
    'deliver-within': durationFlag('Wait this long for offline agents to connect instead of marking them unreachable.'),
    canary: Flags.integer({
      summary: 'Run the first N targets (by name) first; the rest start only if all N succeeded, else are skipped.',
      helpValue: 'N',
      min: 1,
    }),
    'batch-wait': durationFlag(
      'With --max-concurrency N: start runs in batches of N, this long after the last run of a batch ended.',
    ),
    executor: Flags.string({
      summary: 'How agents run it: shell (default), exec (argv, no shell), script (see --script), ssh.',
      options: [...EXECUTORS],
    }),
    script: Flags.string({
      summary: "Run this file's content (it needs a shebang line); the words after -- are its arguments.",
      helpValue: 'FILE',
    }),
    cwd: Flags.string({ summary: 'Working directory of the command on the target.', helpValue: 'DIR' }),
    'ssh-target': Flags.string({
      summary: 'With --executor ssh: run on this agentless host, through the agent --via names.',
      helpValue: '[USER@]HOST[:PORT]',
    }),
    via: Flags.string({ summary: 'The agent that connects to --ssh-target.', helpValue: 'AGENT' }),
    ai: Flags.boolean({ summary: 'The words are a request: the AI writes the command for each OS; you confirm it.' }),
    review: Flags.boolean({
      summary: "Have the AI review the command's risk first; you confirm it.",
      exclusive: ['ai'],
    }),
    'dry-run': Flags.boolean({ summary: 'With --ai or --review: show the plan, run nothing.' }),
    'allow-high-risk': Flags.boolean({ summary: 'With --ai or --review: a high-risk plan may run.' }),
    yes: Flags.boolean({ char: 'y', summary: 'With --ai or --review: run the plan without asking (scripts).' }),
    'no-stdin': Flags.boolean({
      char: 'n',
      summary:
        "Send no stdin: every run's process reads end-of-file at once (as `ssh -n`). Piped stdin goes to every run.",
    }),
    ...localFlags,
  };

  async run(): Promise<void> {
    const { argv, flags, raw } = await this.parse(Exec);
    checkLocalFlags(flags.local, givenFlags(raw), flags.executor);
    const env = parseEnv(flags.env ?? []);
    // --local: a controller and an agent in this process (exec-local.ts), stopped once the job is done.
    const local = flags.local ? await startLocal(flags) : undefined;
    const session = local?.session ?? (await resolveSession(flags));
    const code = await runExec(
      {
        command: (argv as string[]).join(' '),
        targets: local?.targets ?? flags.target ?? [],
        all: flags.all,
        timeoutMs: parseDuration(flags.timeout as string, '--timeout'),
        env,
        mode: outputMode({ json: flags.json, stream: flags.stream, noTui: flags['no-tui'], group: flags.group }),
        async: flags.async,
        patienceMs: parseDuration(flags.patience, '--patience'),
        executor: await executorOptions(flags, argv as string[]),
        ai: aiOptions(flags),
        stdin: forwardsStdin(flags['no-stdin']),
        rollout: {
          ...(flags['max-concurrency']
            ? { maxConcurrency: parseLimit(flags['max-concurrency'], '--max-concurrency', true) }
            : {}),
          ...(flags['max-errors'] ? { maxErrors: parseLimit(flags['max-errors'], '--max-errors') } : {}),
          ...(flags['deliver-within']
            ? { deliverWithinMs: parseDuration(flags['deliver-within'], '--deliver-within') }
            : {}),
          ...(flags.canary !== undefined ? { canary: flags.canary } : {}),
          ...(flags['batch-wait'] ? { batchWaitMs: batchWait(flags['batch-wait'], flags['max-concurrency']) } : {}),
        },
      },
      session,
      { stdout: process.stdout, stderr: process.stderr },
    ).finally(() => local?.stop());
    await this.finish(code);
  }
}

/** `--batch-wait` spaces the batches of `--max-concurrency`: alone it means nothing (exit 2). */
function batchWait(text: string, maxConcurrency: string | undefined): number {
  if (!maxConcurrency) {
    throw usageError(
      '--batch-wait needs --max-concurrency (the size of a batch)',
      'ogent exec --all --max-concurrency 10 --batch-wait 1m -- CMD',
    );
  }
  return parseDuration(text, '--batch-wait');
}

function parseEnv(pairs: string[]): Record<string, string> | undefined {
  if (!pairs.length) return undefined;
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const key = pair.slice(0, eq);
    if (eq <= 0 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw usageError(`invalid --env "${pair}": use K=V`);
    env[key] = pair.slice(eq + 1);
  }
  return env;
}
