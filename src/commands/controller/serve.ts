import { Flags } from '@oclif/core';
import { StartupError, UserError, usageError } from '../../lib/errors.js';
import { waitForSignal } from '../../lib/signals.js';
import { keepServing } from '../../lib/last-resort.js';
import { createLogger, LOG_LEVELS, type LogLevel } from '../../lib/log.js';
import { defaultDataDir } from '../../lib/paths.js';
import { isLoopback } from '../../lib/net.js';
import { CONNECTION_LIMITS } from '../../controller/connection-limits.js';
import { DEFAULT_RETAIN_DAYS } from '../../controller/application/jobs/retention.js';
import { BaseCommand, durationFlag, parseDuration } from '../base.js';

export default class ControllerServe extends BaseCommand {
  static override summary = 'Run the controller: users log in, agents connect, jobs are stored and dispatched.';
  static override examples = [
    {
      description: 'First start, with an agent inside so `ogent exec --all` works at once',
      command: 'OGENT_ADMIN_PASSWORD=s3cret-pass <%= config.bin %> controller serve --local-agent',
    },
    {
      description:
        'HTTPS and WSS on all interfaces with its own CA in DATA_DIR/tls (join tokens carry its fingerprint)',
      command: '<%= config.bin %> controller serve --host 0.0.0.0 --tls-san ctl.example.com',
    },
    {
      description:
        'HTTPS and WSS with your own certificate (agents and clients then pass --ca, unless a public CA signed it)',
      command:
        '<%= config.bin %> controller serve --host 0.0.0.0 --tls-cert /etc/ogent/cert.pem --tls-key /etc/ogent/key.pem',
    },
    {
      description: 'Plain HTTP on all interfaces, behind a TLS-terminating proxy (without TLS it must be asked for)',
      command: '<%= config.bin %> controller serve --host 0.0.0.0 --insecure-http --data-dir /var/lib/ogent',
    },
    {
      description: 'One of several controllers sharing a Redis (agents and clients may use any of them)',
      command:
        '<%= config.bin %> controller serve --host 0.0.0.0 --tls-cert cert.pem --tls-key key.pem --redis redis://10.0.0.5:6379/0',
    },
    {
      description: 'A fleet of 6,000 agents behind one NAT address: raise the per-address cap',
      command:
        '<%= config.bin %> controller serve --host 0.0.0.0 --tls-cert cert.pem --tls-key key.pem --max-connections-per-address 8000',
    },
    {
      description: 'Tighter caps for a controller facing many users: 8 live sessions each, 64 handshakes per address',
      command:
        '<%= config.bin %> controller serve --host 0.0.0.0 --tls-cert cert.pem --tls-key key.pem --max-sockets-per-user 8 --max-unauthenticated-per-address 64',
    },
    {
      description: 'People stay logged in for 8 hours, access tokens for 15 minutes (0 turns refresh tokens off)',
      command: '<%= config.bin %> controller serve --token-ttl 15m --refresh-ttl 8h',
    },
    {
      description: 'With AI command processing (`exec --ai`, `--review`) through a local Ollama',
      command: '<%= config.bin %> controller serve --ai-base-url http://127.0.0.1:11434/v1 --ai-model llama3.1',
    },
  ];
  static override flags = {
    host: Flags.string({ summary: 'Address to listen on.', default: '127.0.0.1', env: 'OGENT_HOST' }),
    port: Flags.integer({
      summary: 'Port to listen on (0 picks a free one).',
      default: 8600,
      min: 0,
      max: 65535,
      env: 'OGENT_PORT',
    }),
    'data-dir': Flags.string({ summary: 'Where the store lives.', env: 'OGENT_DATA_DIR', helpValue: 'DIR' }),
    redis: Flags.string({
      summary: 'Scale out: share state and events with other controllers through this Redis (not the data dir).',
      env: 'OGENT_REDIS_URL',
      helpValue: 'URL',
    }),
    'local-agent': Flags.boolean({ summary: 'Also run an agent inside the controller, connected to itself.' }),
    'local-agent-name': Flags.string({
      summary: 'Name of the local agent (default: the host name).',
      helpValue: 'NAME',
    }),
    'tls-cert': Flags.string({
      summary: 'Serve HTTPS/WSS with this certificate (PEM; the certificate, then any intermediates).',
      env: 'OGENT_TLS_CERT',
      helpValue: 'FILE',
      dependsOn: ['tls-key'],
    }),
    'tls-key': Flags.string({
      summary: 'The private key (PEM, unencrypted) of --tls-cert.',
      env: 'OGENT_TLS_KEY',
      helpValue: 'FILE',
      dependsOn: ['tls-cert'],
    }),
    'tls-san': Flags.string({
      multiple: true,
      delimiter: ',',
      summary:
        'Another host name or address for the certificate of its own CA (repeatable; e.g. a DNS name or NAT address).',
      env: 'OGENT_TLS_SAN',
      helpValue: 'NAME',
    }),
    'insecure-http': Flags.boolean({
      summary: 'Serve plain HTTP on an address that is not loopback (else HTTPS, with its own CA without --tls-cert).',
      env: 'OGENT_INSECURE_HTTP',
    }),
    'max-connections-per-address': Flags.integer({
      summary: 'Open connections allowed from one client address; past it, 503 (a fleet behind one NAT: raise it).',
      default: CONNECTION_LIMITS.connectionsPerAddress,
      min: 1,
      env: 'OGENT_MAX_CONNECTIONS_PER_ADDRESS',
      helpValue: 'N',
    }),
    'max-unauthenticated-per-address': Flags.integer({
      summary: 'Of those, connections not authenticated yet (HTTP, WebSockets before their handshake).',
      default: CONNECTION_LIMITS.unauthenticatedPerAddress,
      min: 1,
      env: 'OGENT_MAX_UNAUTHENTICATED_PER_ADDRESS',
      helpValue: 'N',
    }),
    'max-sockets-per-user': Flags.integer({
      summary: 'Live connections (exec, jobs wait) one user may hold on /clients at once.',
      default: CONNECTION_LIMITS.socketsPerUser,
      min: 1,
      env: 'OGENT_MAX_SOCKETS_PER_USER',
      helpValue: 'N',
    }),
    'token-ttl': durationFlag('How long a login token is valid.', '1h'),
    'refresh-ttl': Flags.string({
      summary: 'How long a person stays logged in: the refresh token that renews login tokens (0: none).',
      description: 'e.g. --refresh-ttl 8h for a shorter working day; `ogent logout` and a password change end it.',
      helpValue: 'DURATION',
      default: '12h',
      env: 'OGENT_REFRESH_TTL',
    }),
    'retain-jobs': Flags.integer({
      summary: 'Keep at most this many finished jobs (older ones are removed).',
      min: 1,
      helpValue: 'N',
    }),
    'retain-days': Flags.integer({
      summary: 'Remove finished jobs older than this many days, with their output (0: keep them all).',
      description: 'Old jobs are removed in the background, a batch at a time, at start and every minute.',
      min: 0,
      default: DEFAULT_RETAIN_DAYS,
      helpValue: 'D',
    }),
    'ai-base-url': Flags.string({
      summary: 'OpenAI-compatible API for `exec --ai` and `--review`, up to its version (key in OGENT_AI_API_KEY).',
      env: 'OGENT_AI_BASE_URL',
      helpValue: 'URL',
      dependsOn: ['ai-model'],
    }),
    'ai-model': Flags.string({
      summary: 'Model to ask, as the endpoint names it.',
      env: 'OGENT_AI_MODEL',
      helpValue: 'MODEL',
      dependsOn: ['ai-base-url'],
    }),
    'ai-timeout': durationFlag('How long to wait for the AI endpoint to answer.', '60s'),
    'agent-grace': durationFlag('How long an agent may stay away mid-run before its runs are `lost`.', '2m'),
    metrics: Flags.boolean({
      summary: 'Serve Prometheus metrics on GET /metrics; --no-metrics turns them off.',
      default: true,
      allowNo: true,
      env: 'OGENT_METRICS',
    }),
    'log-level': Flags.string({ summary: 'Log level.', options: LOG_LEVELS, default: 'info', env: 'OGENT_LOG_LEVEL' }),
  };

  protected override sigpipeOnClosedOutput(): boolean {
    return false;
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(ControllerServe);
    const log = createLogger(flags['log-level'] as LogLevel);
    const tokenTtlMs = parseDuration(flags['token-ttl'] as string);
    if (tokenTtlMs < 1000) throw new RangeError('--token-ttl must be at least 1s');
    const refreshTtl = (flags['refresh-ttl'] as string).trim();
    const refreshTtlMs = refreshTtl === '0' ? 0 : parseDuration(refreshTtl, '--refresh-ttl');
    if (refreshTtlMs > 0 && refreshTtlMs < 1000) throw new RangeError('--refresh-ttl must be 0 or at least 1s');
    // Off loopback without --tls-cert: HTTPS with the controller's own CA, unless plain HTTP is asked for.
    const ownTls = !flags['tls-cert'] && !flags['insecure-http'] && !isLoopback(flags.host);
    // Loaded here: every other command (an `exec` in cron) would otherwise load the controller's modules too.
    const { startController } = await import('../../controller/index.js');
    let controller;
    try {
      controller = await startController({
        host: flags.host,
        port: flags.port,
        dataDir: flags['data-dir'] ?? defaultDataDir(),
        tokenTtlSeconds: Math.round(tokenTtlMs / 1000),
        refreshTtlSeconds: Math.round(refreshTtlMs / 1000),
        adminPassword: process.env.OGENT_ADMIN_PASSWORD || undefined,
        localAgent: flags['local-agent'] ? { name: flags['local-agent-name'] } : false,
        lostAfterMs: parseDuration(flags['agent-grace'] as string),
        ai: aiSettings(flags['ai-base-url'], flags['ai-model'], flags['ai-timeout'] as string),
        retainJobs: flags['retain-jobs'],
        retainDays: flags['retain-days'],
        metrics: flags.metrics,
        tls:
          flags['tls-cert'] && flags['tls-key']
            ? { certFile: flags['tls-cert'], keyFile: flags['tls-key'] }
            : undefined,
        ownTls: ownTls ? { names: flags['tls-san'] ?? [] } : undefined,
        redis: flags.redis || undefined,
        connectionLimits: {
          connectionsPerAddress: flags['max-connections-per-address'],
          unauthenticatedPerAddress: flags['max-unauthenticated-per-address'],
          socketsPerUser: flags['max-sockets-per-user'],
        },
        log,
      });
    } catch (err) {
      if (err instanceof StartupError) throw new UserError(err.message, { code: 'ERR_STARTUP', exit: 1 });
      throw err;
    }
    if (controller.generatedAdminPassword) {
      process.stderr.write(
        `\nCreated user admin with password: ${controller.generatedAdminPassword}\n` +
          `It is shown once. Log in with: ogent login --controller ${controller.url} --username admin\n\n`,
      );
    }
    // Listening for signals before saying it is ready: a SIGTERM sent on that line must find the listener.
    const signalled = waitForSignal();
    // From here on an error no handler caught is logged and survived (src/lib/last-resort.ts); start-up's ended it.
    let fatal: unknown;
    const broken = new Promise<void>((resolve) => {
      keepServing(log, (err) => {
        fatal ??= err;
        resolve();
      });
    });
    process.stdout.write(`ogent controller listening on ${controller.url}\n`);
    await Promise.race([signalled, broken]);
    await controller.close();
    if (fatal !== undefined) {
      throw new UserError(`stopped after a fatal error: ${(fatal as Error).message}`, { code: 'ERR_FATAL', exit: 1 });
    }
  }
}

function aiSettings(baseUrl: string | undefined, model: string | undefined, timeout: string) {
  if (!baseUrl || !model) return undefined;
  if (!/^https?:\/\/[^/]/.test(baseUrl)) {
    throw usageError(`invalid --ai-base-url "${baseUrl}": use http(s)://host[:port]/v1`, 'http://127.0.0.1:11434/v1');
  }
  return { baseUrl, model, apiKey: process.env.OGENT_AI_API_KEY || undefined, timeoutMs: parseDuration(timeout) };
}
