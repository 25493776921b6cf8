import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { isSea } from 'node:sea';
import { UserError, usageError, type ExitCode } from './errors.js';

/**
 * systemd units for `ogent agent service install` and `ogent controller service install`: the unit text (pure), the
 * environment file that holds the secrets, and writing both. The commands only parse flags and call these.
 */

export type ServiceKind = 'agent' | 'controller';

export interface ServiceDefaults {
  /** The unit file name. */
  unit: string;
  /** `StateDirectory=` (under /var/lib), passed to the command as `stateFlag` unless the user gave that flag. */
  stateDirectory: string;
  stateFlag: 'state-dir' | 'data-dir';
  envFile: string;
  /** The run command, after the executable. */
  command: string[];
  /** Variables copied from the installer's environment into the environment file when set. */
  secrets: string[];
  /** `secrets` of which the service needs one to start (unless the environment file already exists). */
  requiredSecret?: string[];
  description: string;
}

export const SERVICES: Record<ServiceKind, ServiceDefaults> = {
  agent: {
    unit: 'ogent-agent.service',
    stateDirectory: 'ogent-agent',
    stateFlag: 'state-dir',
    envFile: '/etc/ogent/agent.env',
    command: ['agent', 'run'],
    secrets: ['OGENT_PASSWORD', 'OGENT_JOIN_TOKEN'],
    requiredSecret: ['OGENT_PASSWORD', 'OGENT_JOIN_TOKEN'],
    description: 'ogent agent: runs the commands its controller sends',
  },
  controller: {
    unit: 'ogent-controller.service',
    stateDirectory: 'ogent-controller',
    stateFlag: 'data-dir',
    envFile: '/etc/ogent/controller.env',
    command: ['controller', 'serve'],
    secrets: ['OGENT_ADMIN_PASSWORD', 'OGENT_AI_API_KEY'],
    description: 'ogent controller',
  },
};

export const DEFAULT_UNIT_DIR = '/etc/systemd/system';

export interface UnitOptions {
  kind: ServiceKind;
  /** The absolute command that starts ogent: the single executable, or node with its flags and bin/run.js. */
  executable: string[];
  /** Flags of the run command (`agent run` / `controller serve`), as the user gave them. */
  args: string[];
  /** Unix user; default root for the agent (it runs operators' commands), a dynamic user for the controller. */
  user?: string;
  envFile?: string;
  version: string;
}

/** One unit line's value with systemd specifiers (`%`) escaped. */
const specifiers = (value: string) => value.replace(/%/g, '%%');

/** One ExecStart= word: `%` and `$` escaped, double-quoted (C escapes) when it is not a plain word. */
export function systemdQuote(arg: string): string {
  const escaped = specifiers(arg).replace(/\$/g, '$$$$');
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(escaped)) return escaped;
  const inner = escaped.replace(/[\\"\n\t\r]/g, (c) => ({ '\\': '\\\\', '"': '\\"', '\n': '\\n', '\t': '\\t', '\r': '\\r' })[c]!);
  return `"${inner}"`;
}

/** `KEY=value` for a systemd EnvironmentFile: single quotes keep everything literal; else double quotes, escaped. */
export function envFileLine(key: string, value: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw usageError(`invalid environment variable name "${key}"`);
  if (/[\n\r\0]/.test(value)) throw usageError(`${key} cannot contain a line break`);
  if (!value.includes("'")) return `${key}='${value}'`;
  return `${key}="${value.replace(/[\\"`$]/g, (c) => `\\${c}`)}"`;
}

/** How this very program was started, to put in ExecStart: the single executable, or node + its flags + the script. */
export function selfCommand(): string[] {
  if (isSea()) return [process.execPath];
  const script = process.argv[1];
  if (!script) return [process.execPath];
  return [process.execPath, ...process.execArgv, realpathSync(script)];
}

/** Flag values back to arguments, in `defs` order: `--name value`, repeated for multiple, `--name` for booleans. */
export function flagArgs(
  defs: Record<string, { type: string; multiple?: boolean; allowNo?: boolean }>,
  values: Record<string, unknown>,
): string[] {
  const args: string[] = [];
  for (const [name, def] of Object.entries(defs)) {
    const value = values[name];
    if (value === undefined) continue;
    if (def.type === 'boolean') {
      if (value === true) args.push(`--${name}`);
      else if (value === false && def.allowNo) args.push(`--no-${name}`);
    } else {
      for (const one of def.multiple && Array.isArray(value) ? value : [value]) args.push(`--${name}`, String(one));
    }
  }
  return args;
}

/**
 * A command's flags for the install command to accept and pass on, shown under `helpGroup`: without their
 * environment variables and defaults, so that only what the installer typed ends up in ExecStart.
 */
export function passthroughFlags<T extends Record<string, object>>(flags: T, helpGroup: string): T {
  return Object.fromEntries(
    Object.entries(flags).map(([name, flag]) => {
      const copy: Record<string, unknown> = { ...flag, helpGroup };
      delete copy.env;
      delete copy.default;
      return [name, copy];
    }),
  ) as T;
}

/** The systemd unit. */
export function renderUnit(options: UnitOptions): string {
  const defaults = SERVICES[options.kind];
  const envFile = options.envFile ?? defaults.envFile;
  const args = [...options.args];
  let dataDir = `/var/lib/${defaults.stateDirectory}`;
  const given = args.indexOf(`--${defaults.stateFlag}`);
  if (given >= 0 && args[given + 1]) dataDir = args[given + 1] = resolve(args[given + 1]!);
  else args.push(`--${defaults.stateFlag}`, dataDir);
  const execStart = [...options.executable, ...defaults.command, ...args].map(systemdQuote).join(' ');
  if (options.user !== undefined && !/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(options.user))
    throw usageError(`invalid --user "${options.user}"`);

  const lines: string[] = [
    `# ${defaults.description}.`,
    `# Written by \`ogent ${options.kind} service install\` (ogent ${options.version}); secrets go in ${envFile} (mode 0600).`,
    `# After a change: systemctl daemon-reload && systemctl restart ${defaults.unit.replace(/\.service$/, '')}`,
    '[Unit]',
    `Description=${specifiers(defaults.description)}`,
    'Wants=network-online.target',
    'After=network-online.target',
    '',
    '[Service]',
    'Type=exec',
    `ExecStart=${execStart}`,
  ];
  if (options.kind === 'agent') {
    lines.push(
      `EnvironmentFile=${specifiers(envFile)}`,
      // Set even for root, so that HOME, USER and SHELL are set for the commands the agent runs.
      `User=${options.user ?? 'root'}`,
      `StateDirectory=${defaults.stateDirectory}`,
      'StateDirectoryMode=0700',
      'Restart=on-failure',
      'RestartSec=5s',
      '# 2: a bad flag, 3: a wrong password. Restarting would not help.',
      'RestartPreventExitStatus=2 3',
      // SIGTERM to the agent alone: running commands get its --shutdown-grace (30s) to finish; KILL for all after.
      'KillMode=mixed',
      'TimeoutStopSec=45s',
      '# No sandbox: the agent exists to run what operators send, with the rights of its user.',
      '# Use --user (and sudo rules) to give it fewer.',
    );
  } else {
    const portAt = args.indexOf('--port');
    const port = portAt >= 0 ? Number(args[portAt + 1]) : NaN;
    const lowPort = port > 0 && port < 1024;
    lines.push(
      `EnvironmentFile=-${specifiers(envFile)}`,
      options.user === undefined ? 'DynamicUser=yes' : `User=${options.user}`,
      `StateDirectory=${defaults.stateDirectory}`,
      'StateDirectoryMode=0700',
      ...(dataDir.startsWith(`/var/lib/${defaults.stateDirectory}`) ? [] : [`ReadWritePaths=${specifiers(dataDir)}`]),
      'Restart=on-failure',
      'RestartSec=2s',
      '# 2: a bad flag. Restarting would not help.',
      'RestartPreventExitStatus=2',
      '# One open file per connected agent.',
      'LimitNOFILE=65536',
      'UMask=0077',
      'NoNewPrivileges=yes',
      lowPort ? 'CapabilityBoundingSet=CAP_NET_BIND_SERVICE' : 'CapabilityBoundingSet=',
      ...(lowPort ? ['AmbientCapabilities=CAP_NET_BIND_SERVICE'] : []),
      'ProtectSystem=strict',
      'ProtectHome=yes',
      'PrivateTmp=yes',
      'PrivateDevices=yes',
      'ProtectProc=invisible',
      'ProtectClock=yes',
      'ProtectHostname=yes',
      'ProtectKernelLogs=yes',
      'ProtectKernelModules=yes',
      'ProtectKernelTunables=yes',
      'ProtectControlGroups=yes',
      'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK',
      'RestrictNamespaces=yes',
      'RestrictRealtime=yes',
      'RestrictSUIDSGID=yes',
      'LockPersonality=yes',
      'SystemCallArchitectures=native',
      'SystemCallFilter=@system-service',
      'SystemCallErrorNumber=EPERM',
      "# No MemoryDenyWriteExecute=: V8's JIT compiler writes code.",
    );
    if (args.includes('--local-agent'))
      lines.push('# --local-agent: its commands run inside this sandbox, as the service user.');
  }
  lines.push('', '[Install]', 'WantedBy=multi-user.target', '');
  return lines.join('\n');
}

export interface InstallOptions {
  kind: ServiceKind;
  unit: string;
  unitDir?: string;
  envFile?: string;
  /** Variables to write into the environment file (replacing the same names there, keeping the others). */
  secrets: Record<string, string>;
}

export interface Installed {
  unitPath: string;
  envFile: string;
  envFileWritten: boolean;
  /** What to run next. */
  next: string;
}

const cannotWrite = (path: string, err: NodeJS.ErrnoException) => {
  const denied = err.code === 'EACCES' || err.code === 'EPERM' || err.code === 'EROFS';
  return new UserError(`cannot write ${path}: ${denied ? 'permission denied' : err.message}`, {
    code: 'ERR_INSTALL',
    exit: 1 as ExitCode,
    suggestion: denied ? 'run it as root (sudo), or see the unit with --print' : undefined,
  });
};

/** Writes `content` to `path` through a temporary file and a rename, so a reader never sees half of it. */
async function writeAtomic(path: string, content: string, mode: number): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o755 });
    await writeFile(tmp, content, { mode });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {});
    throw cannotWrite(path, err as NodeJS.ErrnoException);
  }
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Writes the environment file (mode 0600) when there are secrets, then the unit (0644). */
export async function installService(options: InstallOptions): Promise<Installed> {
  const defaults = SERVICES[options.kind];
  const unitPath = join(options.unitDir ?? DEFAULT_UNIT_DIR, defaults.unit);
  const envFile = options.envFile ?? defaults.envFile;
  const existing = await readIfExists(envFile).catch((err: NodeJS.ErrnoException) => {
    throw new UserError(`cannot read ${envFile}: ${err.code === 'EACCES' ? 'permission denied' : err.message}`, {
      code: 'ERR_INSTALL',
      exit: 1 as ExitCode,
      suggestion: 'run it as root (sudo)',
    });
  });
  const names = Object.keys(options.secrets);
  const required = defaults.requiredSecret ?? [];
  if (required.length && !required.some((name) => names.includes(name)) && existing === undefined)
    throw usageError(
      `no ${required.join(' nor ')} for the service: set one, or pass --password-stdin${options.kind === 'agent' ? ' or --join-token TOKEN' : ''}, or write it in ${envFile}`,
      options.kind === 'agent'
        ? `sudo ogent agent service install --join-token TOKEN … (an admin makes one with \`ogent agents enroll-token\`), or printf %s "$PW" | sudo ogent agent service install --password-stdin …`
        : `printf %s "$PW" | sudo ogent ${options.kind} service install --password-stdin …`,
    );
  let envFileWritten = false;
  if (names.length) {
    const kept = (existing ?? '')
      .split('\n')
      .filter((line) => line !== '' && !names.some((name) => new RegExp(`^\\s*(export\\s+)?${name}=`).test(line)));
    const lines = [...kept, ...names.map((name) => envFileLine(name, options.secrets[name]!))];
    await writeAtomic(envFile, `${lines.join('\n')}\n`, 0o600);
    envFileWritten = true;
  }
  await writeAtomic(unitPath, options.unit, 0o644);
  const service = defaults.unit.replace(/\.service$/, '');
  return {
    unitPath,
    envFile,
    envFileWritten,
    next: `systemctl daemon-reload && systemctl enable --now ${service} && systemctl status ${service}`,
  };
}
