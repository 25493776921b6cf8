import { captureCommand } from './process.js';

/**
 * Which C library this host has, for the single executable, which needs glibc 2.28 or later as Node.js's official
 * builds do (README "Installing on a host"). The parsing and the verdict are pure; `hostLibc` looks.
 */
export const MIN_GLIBC = { major: 2, minor: 28 } as const;

export type Libc = { kind: 'glibc'; version: string } | { kind: 'musl' } | { kind: 'unknown' };

/** From `process.report.getReport().header`: `glibcVersionRuntime` is set by a Node.js linked against glibc. */
export function libcFromReport(header: { glibcVersionRuntime?: unknown } | undefined): Libc | undefined {
  const version = header?.glibcVersionRuntime;
  return typeof version === 'string' && /^\d+\.\d+/.test(version) ? { kind: 'glibc', version } : undefined;
}

/**
 * From the output of `ldd --version` (stdout and stderr together): glibc prints `ldd (GNU libc) 2.36` or
 * `ldd (Ubuntu GLIBC 2.35-0ubuntu3.8) 2.35` first; musl prints `musl libc (x86_64)` (to stderr, exit 1).
 */
export function libcFromLdd(output: string): Libc {
  if (/\bmusl\b/i.test(output)) return { kind: 'musl' };
  const first = output.split('\n').find((line) => /^ldd\b/.test(line.trim())) ?? '';
  const version = /(\d+\.\d+)\s*$/.exec(first.trim())?.[1];
  if (version && /GNU|GLIBC|libc/i.test(first)) return { kind: 'glibc', version };
  return { kind: 'unknown' };
}

/** Why the executable cannot run on a host with `libc`, or undefined when it can (or nothing can tell). */
export function libcProblem(libc: Libc): string | undefined {
  const needed = `glibc ${MIN_GLIBC.major}.${MIN_GLIBC.minor} or later`;
  if (libc.kind === 'musl') return `this host's C library is musl (Alpine?), and ogent needs ${needed}`;
  if (libc.kind === 'unknown') return undefined;
  const [major = 0, minor = 0] = libc.version.split('.').map(Number);
  const old = major < MIN_GLIBC.major || (major === MIN_GLIBC.major && minor < MIN_GLIBC.minor);
  return old ? `this host has glibc ${libc.version}, and ogent needs ${needed}` : undefined;
}

/** This host's C library: what Node.js itself was linked against, else what `ldd --version` says. */
export async function hostLibc(): Promise<Libc> {
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: unknown } } | undefined;
  const fromReport = libcFromReport(report?.header);
  if (fromReport) return fromReport;
  const ldd = await captureCommand('ldd', ['--version']);
  return ldd.error ? { kind: 'unknown' } : libcFromLdd(`${ldd.stdout}\n${ldd.stderr}`);
}
