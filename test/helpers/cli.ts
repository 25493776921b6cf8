import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/run.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  /** stdout as bytes (what `stdout` decodes, bytes that are not UTF-8 included). */
  stdoutBytes: Buffer;
  stderr: string;
}

/** Runs `bin/run.js ARGS` to completion (the real executable, as users run it). */
export function runCli(
  args: string[],
  options: { env?: Record<string, string | undefined>; input?: string; timeoutMs?: number; bin?: string } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [options.bin ?? BIN, ...args], {
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      const stdout = Buffer.concat(out).toString();
      reject(new Error(`ogent ${args.join(' ')} did not finish in time\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, options.timeoutMs ?? 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const stdoutBytes = Buffer.concat(out);
      resolve({ code, stdout: stdoutBytes.toString(), stdoutBytes, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** A long-running `bin/run.js` (controller, agent): resolves once `ready` matches its output. */
export interface Daemon {
  child: ChildProcess;
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function startDaemon(
  args: string[],
  ready: RegExp,
  options: { env?: Record<string, string | undefined>; timeoutMs?: number; bin?: string } = {},
): Promise<Daemon & { match: RegExpMatchArray }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [options.bin ?? BIN, ...args], {
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let settled = false;
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const daemon: Daemon = {
      child,
      output: () => out,
      async stop(signal = 'SIGTERM') {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        return exited;
      },
    };
    const onData = (d: Buffer) => {
      out += d.toString();
      const match = out.match(ready);
      if (match && !settled) {
        settled = true;
        clearTimeout(timer);
        resolve({ ...daemon, match });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      child.kill('SIGKILL');
      reject(new Error(`ogent ${args.join(' ')} not ready in time:\n${out}`));
    }, options.timeoutMs ?? 15_000);
    void exited.then((code) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`ogent ${args.join(' ')} exited with ${code} before it was ready:\n${out}`));
    });
  });
}

/** `bin/run.js ARGV` left running, logged in as the admin: its output so far, and its exit code when it ends. */
export interface Background {
  exited: Promise<number | null>;
  out(): string;
  err(): string;
  kill(): void;
}

export function cliInBackground(
  controller: string,
  adminPassword: string,
  configHome: string,
  argv: string[],
): Background {
  const child = spawn(process.execPath, [BIN, ...argv], {
    env: {
      ...process.env,
      OGENT_CONTROLLER: controller,
      OGENT_USERNAME: 'admin',
      OGENT_PASSWORD: adminPassword,
      XDG_CONFIG_HOME: configHome,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { exited, out: () => stdout, err: () => stderr, kill: () => void child.kill('SIGKILL') };
}

/** `bin/run.js exec ARGS` left running (cliInBackground). */
export const execInBackground = (controller: string, adminPassword: string, configHome: string, args: string[]) =>
  cliInBackground(controller, adminPassword, configHome, ['exec', ...args]);
