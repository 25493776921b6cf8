import { Command, Errors, Flags, type Interfaces } from '@oclif/core';
import { dieOfSigpipe, endOnClosedOutput, isClosedOutput } from '../lib/closed-output.js';
import { EXIT, UserError, type ExitCode } from '../lib/errors.js';
import { parseDuration } from '../domain/duration.js';
import { INSECURE_HTTP_SUMMARY } from '../lib/plain-http.js';

/** Every command: one error handler that prints `ogent: message` (+ what to try) and sets the exit code. */
export abstract class BaseCommand extends Command {
  static override enableJsonFlag = false;

  /**
   * Ends the command with `code` (0 returns normally), once what it printed has left the process: oclif ends a
   * non-zero exit with `process.exit`, which would cut off output still queued for a pipe (a `--json` document).
   */
  protected async finish(code: ExitCode): Promise<void> {
    await flushed();
    if (code !== EXIT.ok) this.exit(code);
  }

  /**
   * Whether a closed stdout or stderr ends the command by SIGPIPE, as `cat`. Not for services: systemd restarts no
   * service that SIGPIPE ended (`Restart=on-failure`).
   */
  protected sigpipeOnClosedOutput(): boolean {
    return true;
  }

  public override async init(): Promise<void> {
    if (this.sigpipeOnClosedOutput()) endOnClosedOutput();
    await super.init();
  }

  protected override async catch(err: Error & { exitCode?: number; parse?: unknown; oclif?: { exit?: number } }) {
    if (err instanceof Errors.ExitError) throw err;
    if (this.sigpipeOnClosedOutput() && isClosedOutput(err)) dieOfSigpipe();
    if (err instanceof UserError) {
      process.stderr.write(
        `ogent: ${err.message}\n${err.options.suggestion ? `  try: ${err.options.suggestion}\n` : ''}`,
      );
      await flushed();
      throw new Errors.ExitError(err.exit);
    }
    if (err.parse !== undefined || err.oclif?.exit === 2) {
      process.stderr.write(`ogent: ${err.message.trim()}\n  try: ogent ${this.id?.replace(/:/g, ' ') ?? ''} --help\n`);
      throw new Errors.ExitError(EXIT.usage);
    }
    if (err instanceof RangeError) {
      process.stderr.write(`ogent: ${err.message}\n`);
      throw new Errors.ExitError(EXIT.usage);
    }
    throw err;
  }
}

/** Resolves once stdout and stderr have handed everything written so far to the operating system. */
export async function flushed(): Promise<void> {
  const drain = (stream: NodeJS.WriteStream) =>
    stream.writableLength === 0 || stream.destroyed
      ? undefined
      : new Promise<void>((resolve) => {
          stream.once('error', () => resolve());
          stream.write('', () => resolve());
        });
  await Promise.all([drain(process.stdout), drain(process.stderr)]);
}

export type FlagsOf<T extends typeof Command> = Interfaces.InferredFlags<T['flags']>;

/** Flags shared by every command that talks to a controller. */
export const connectionFlags = {
  controller: Flags.string({
    summary: 'Controller URL (default: the one from `ogent login`, else http://127.0.0.1:8600).',
    env: 'OGENT_CONTROLLER',
    helpValue: 'URL',
  }),
  ca: Flags.string({
    summary: 'Trust this CA certificate (PEM) for an https:// controller, besides the system CAs.',
    env: 'OGENT_CA',
    helpValue: 'FILE',
  }),
  'request-timeout': Flags.custom<number>({
    summary: 'How long to wait for each answer from the controller before exiting 4 (default 30s), e.g. 5s.',
    env: 'OGENT_REQUEST_TIMEOUT',
    helpValue: 'DURATION',
    parse: async (text) => parseDuration(text, '--request-timeout'),
  })(),
  'insecure-http': Flags.boolean({ summary: INSECURE_HTTP_SUMMARY, env: 'OGENT_INSECURE_HTTP' }),
};

/** A duration flag (`30s`, `5m`, `1h30m`); read it with `parseDuration`, whose RangeError exits 2. */
export const durationFlag = (summary: string, defaultValue?: string) =>
  Flags.string({ summary, helpValue: 'DURATION', ...(defaultValue ? { default: defaultValue } : {}) });

export { parseDuration };

export const patienceFlag = Flags.string({
  summary: 'How long to wait for the controller if it goes away mid-job before exiting 4 (the job goes on).',
  helpValue: 'DURATION',
  default: '1m',
  env: 'OGENT_PATIENCE',
});

/** `--group` on exec, `jobs show` and `jobs wait` (README, Grouped output). */
export const groupFlag = Flags.boolean({
  summary: 'After the job, one block per distinct output headed by its agents, `web-[1-3,7] (4)` (as clush -b).',
});
export const jsonFlag = Flags.boolean({ summary: 'Print JSON on stdout and nothing else.' });
