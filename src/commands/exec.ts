import { Args, Flags } from '@oclif/core';
import { resolveSession } from '../client/credentials.js';
import { runExec } from '../client/exec-service.js';
import { usageError } from '../lib/errors.js';
import { BaseCommand, connectionFlags, durationFlag, jsonFlag, parseDuration, patienceFlag } from './base.js';

export default class Exec extends BaseCommand {
  static override summary = 'Run a command on a set of agents and watch it finish.';
  static override description =
    'Exit codes: 0 every run succeeded, 1 a run did not succeed, 2 usage error, 3 authentication refused, ' +
    '4 controller unreachable, 5 the selector matched no agent.';
  static override strict = false;
  static override examples = [
    { description: 'Every agent', command: '<%= config.bin %> exec --all -- uptime' },
    {
      description: 'Web servers but web-3, as JSON',
      command: "<%= config.bin %> exec -t 'role=web' -t '!web-3' --json -- df -h /",
    },
    { description: 'Start and return at once', command: '<%= config.bin %> exec -t db-1 --async -- backup.sh' },
    {
      description: 'Give up after 30 seconds',
      command: "<%= config.bin %> exec -t 'web-*' --timeout 30s -- 'systemctl restart nginx'",
    },
  ];
  static override args = { command: Args.string({ description: 'The shell command (quote it, or put it after --).' }) };
  static override flags = {
    ...connectionFlags,
    target: Flags.string({
      char: 't',
      multiple: true,
      summary: 'Selector: comma-separated name globs or key=value labels (OR), `!` negates; repeat for AND.',
      helpValue: 'SELECTOR',
    }),
    all: Flags.boolean({ char: 'a', summary: 'Every known agent.' }),
    timeout: durationFlag('Kill the command on an agent after this long.', '5m'),
    env: Flags.string({ multiple: true, summary: 'Environment variable for the command.', helpValue: 'K=V' }),
    json: jsonFlag,
    stream: Flags.boolean({ summary: 'Print NDJSON events as they happen.', exclusive: ['json'] }),
    async: Flags.boolean({ summary: 'Print the job id and exit at once; follow it with `ogent jobs wait ID`.' }),
    'no-tui': Flags.boolean({ summary: 'Plain prefixed lines even on a terminal.' }),
    patience: patienceFlag,
  };

  async run(): Promise<void> {
    const { argv, flags } = await this.parse(Exec);
    const env = parseEnv(flags.env ?? []);
    const session = await resolveSession(flags.controller);
    const code = await runExec(
      {
        command: (argv as string[]).join(' '),
        targets: flags.target ?? [],
        all: flags.all,
        timeoutMs: parseDuration(flags.timeout as string),
        env,
        mode: flags.json ? 'json' : flags.stream ? 'stream' : 'plain',
        async: flags.async,
        patienceMs: parseDuration(flags.patience),
      },
      session,
      { stdout: process.stdout, stderr: process.stderr },
    );
    this.finish(code);
  }
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
