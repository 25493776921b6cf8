import { formatSpan } from '../domain/duration.js';
import { EXIT, type ExitCode } from '../lib/errors.js';
import { isLoopback } from '../lib/net.js';
import { VERSION } from '../lib/version.js';
import { compatibility, parseVersion } from '../domain/versions.js';
import { DEFAULT_CONTROLLER, readStored, type StoredCredentials } from './credentials.js';
import {
  diagnose,
  httpCall,
  notAController,
  tlsProbe,
  type Diagnosis,
  type HttpAnswer,
  type ProbeOptions,
} from './doctor-net.js';

export type CheckName = 'url' | 'controller' | 'tls' | 'version' | 'clock' | 'credentials';
export interface Check {
  name: CheckName;
  status: 'ok' | 'warn' | 'fail' | 'skipped';
  message: string;
  advice?: string;
  /** A stable code for scripts (`ECONNREFUSED`, `DEPTH_ZERO_SELF_SIGNED_CERT`, `invalid_grant`…). */
  code?: string;
}

export interface DoctorReport {
  controller: string;
  /** Where the URL came from. */
  source: string;
  checks: Check[];
  ok: boolean;
  exit: ExitCode;
}

export interface DoctorOptions {
  /** `--controller` (or OGENT_CONTROLLER). */
  controller?: string;
  /** PEM to trust (`--ca FILE`). */
  ca?: string;
  /** `--insecure-http`: plain HTTP to another host is allowed (a warning that says less). */
  insecureHttp?: boolean;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** Clock skew beyond these is a warning, then a failure. */
const SKEW_WARN_MS = 5_000;
const SKEW_FAIL_MS = 5 * 60_000;
/** A certificate expiring sooner than this is a warning. */
const CERT_WARN_DAYS = 14;

/**
 * `ogent doctor`: can this host use the controller? Checks, in order, the URL, reaching it, TLS, what answers,
 * versions, clocks and credentials, and says what is wrong in plain words. Never throws for what it diagnoses.
 */
export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  const env = options.env ?? process.env;
  const stored = await readStored(env);
  const raw = options.controller ?? stored?.controller ?? DEFAULT_CONTROLLER;
  const source = options.controller ? '--controller or OGENT_CONTROLLER' : stored ? '`ogent login`' : 'the default';
  const checks: Check[] = [];
  const report = (controller: string): DoctorReport => {
    const fail = checks.find((c) => c.status === 'fail');
    return { controller, source, checks, ok: !fail, exit: fail ? exitOf(fail.name) : EXIT.ok };
  };

  let url: URL;
  try {
    url = new URL(raw.includes('://') ? raw : `http://${raw}`);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('scheme');
  } catch {
    checks.push({
      name: 'url',
      status: 'fail',
      message: `"${raw}" is not a controller URL`,
      advice: 'use http(s)://HOST:PORT, e.g. --controller http://127.0.0.1:8600',
    });
    return report(raw);
  }
  const base = url.origin;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const probe: ProbeOptions = { ca: options.ca, timeoutMs: options.timeoutMs ?? 5000 };
  const failed = (name: CheckName, d: Diagnosis): DoctorReport => {
    checks.push({ name, status: 'fail', message: d.message, advice: d.advice, code: d.code });
    return report(base);
  };

  // HTTPS: the handshake first (nothing else works without trust), reported after the controller's answer.
  let tls: Check;
  if (url.protocol === 'https:') {
    let probed;
    try {
      probed = await tlsProbe(host, port, probe);
    } catch (err) {
      const d = diagnose(err, { host, port, timeoutMs: probe.timeoutMs });
      return failed(d.kind === 'tls' ? 'tls' : 'controller', d);
    }
    if (probed.problem) return failed('tls', probed.problem);
    const { subject, issuer, validTo } = probed.certificate;
    const days = Math.floor((Date.parse(validTo) - Date.now()) / 86_400_000);
    tls = {
      name: 'tls',
      status: days < CERT_WARN_DAYS ? 'warn' : 'ok',
      message: `certificate for ${subject} (issued by ${issuer}) is trusted; expires in ${days} days`,
      ...(days < CERT_WARN_DAYS ? { advice: 'renew it soon; agents and clients refuse it once it expires' } : {}),
    };
  } else if (!isLoopback(host)) {
    // A warning either way: the other commands warn and go on for this release (README, TLS).
    const allowed = options.insecureHttp || (stored?.insecureHttp && stored.controller === base);
    tls = {
      name: 'tls',
      status: 'warn',
      message: allowed
        ? 'plain HTTP to another host: passwords and tokens cross the network unencrypted'
        : 'plain HTTP to another host: passwords and tokens cross unencrypted; the next release refuses it without --insecure-http',
      advice:
        'use an https:// URL (a controller off loopback serves TLS with its own CA unless --insecure-http)' +
        (allowed ? '' : ', or pass --insecure-http (OGENT_INSECURE_HTTP=1) to keep plain HTTP'),
    };
  } else {
    tls = { name: 'tls', status: 'ok', message: 'plain HTTP on this host (loopback)' };
  }

  let health: HttpAnswer;
  try {
    health = await httpCall(new URL('/healthz', base), { headers: { accept: 'application/json' } }, probe);
  } catch (err) {
    const d = diagnose(err, { host, port, timeoutMs: probe.timeoutMs });
    return failed(d.kind === 'tls' ? 'tls' : 'controller', d);
  }
  const body = parseJson(health.text) as { status?: string; version?: string; time?: string } | undefined;
  if (health.status !== 200 || body?.status !== 'ok')
    return failed('controller', notAController(base, health.status, '/healthz'));
  const latency = health.receivedAt - health.sentAt;
  checks.push({ name: 'controller', status: 'ok', message: `an ogent controller answers at ${base} (${latency} ms)` });
  checks.push(tls);
  checks.push(versionCheck(body.version));
  checks.push(clockCheck(health, body.time));
  // Credentials are not sent where the other commands would refuse to send them.
  if (tls.status !== 'fail') checks.push(await credentialsCheck(base, env, stored, probe));
  return report(base);
}

/** The controller's version against this client's, by the policy the controller applies (README "Versions and upgrades"). */
export function versionCheck(theirs: string | undefined, ours: string = VERSION): Check {
  if (!theirs) {
    return {
      name: 'version',
      status: 'warn',
      message: `the controller does not say its version; this client is ${ours}`,
      advice: 'upgrade the controller',
    };
  }
  if (theirs === ours) return { name: 'version', status: 'ok', message: `controller and client are both ${ours}` };
  if (!parseVersion(theirs)) {
    return { name: 'version', status: 'warn', message: `the controller says it is "${theirs}", this client ${ours}` };
  }
  const verdict = compatibility(ours, theirs, 'client');
  if (!verdict.ok) {
    return {
      name: 'version',
      status: 'fail',
      code: verdict.code,
      message: verdict.message,
      advice: 'upgrade controllers first, then agents and clients, one minor release at a time',
    };
  }
  return {
    name: 'version',
    status: 'ok',
    message: `the controller is ${theirs}, this client ${ours}: close enough to work together`,
  };
}

function clockCheck(answer: HttpAnswer, time: string | undefined): Check {
  const dateHeader = typeof answer.headers.date === 'string' ? answer.headers.date : undefined;
  const theirs = Date.parse(time ?? dateHeader ?? '');
  if (Number.isNaN(theirs))
    return { name: 'clock', status: 'skipped', message: 'the controller does not say its time' };
  // Its clock was read somewhere between sending and receiving: compare with the middle.
  const skew = theirs - (answer.sentAt + answer.receivedAt) / 2;
  const size = Math.abs(skew);
  const words = `${(size / 1000).toFixed(size < 10_000 ? 1 : 0)} s ${skew > 0 ? 'ahead of' : 'behind'} this host`;
  if (size <= SKEW_WARN_MS)
    return { name: 'clock', status: 'ok', message: `clocks agree (the controller is ${words})` };
  return {
    name: 'clock',
    status: size > SKEW_FAIL_MS ? 'fail' : 'warn',
    message: `the controller's clock is ${words}: run times, "last seen" and token and certificate dates will be off`,
    advice: 'synchronise both clocks with NTP (e.g. `timedatectl set-ntp true`, or chrony)',
  };
}

async function credentialsCheck(
  base: string,
  env: NodeJS.ProcessEnv,
  stored: StoredCredentials | undefined,
  probe: ProbeOptions,
): Promise<Check> {
  const fail = (message: string, advice: string, code?: string): Check => ({
    name: 'credentials',
    status: 'fail',
    message,
    advice,
    code,
  });
  let token: string;
  let how: string;
  if (env.OGENT_TOKEN) {
    token = env.OGENT_TOKEN;
    how = 'OGENT_TOKEN';
  } else if (env.OGENT_USERNAME && env.OGENT_PASSWORD) {
    const user = env.OGENT_USERNAME;
    const res = await httpCall(
      new URL('/token', base),
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ username: user, password: env.OGENT_PASSWORD }).toString(),
      },
      probe,
    ).catch(() => undefined);
    if (!res) return fail('the controller stopped answering during the login', 'run `ogent doctor` again');
    const body = parseJson(res.text) as { access_token?: string; error?: string; message?: string } | undefined;
    if (res.status === 401) {
      return fail(
        `the controller refused user "${user}" with this password (OGENT_USERNAME, OGENT_PASSWORD)`,
        `check both; an admin can set a new password with \`ogent users passwd ${user}\``,
        'invalid_grant',
      );
    }
    if (res.status === 429)
      return fail(`too many failed logins for "${user}"`, 'wait a minute, then try again', 'rate_limited');
    if (res.status !== 200 || !body?.access_token) {
      return fail(`login failed: HTTP ${res.status} ${body?.message ?? ''}`.trim(), 'see the controller log');
    }
    token = body.access_token;
    how = 'OGENT_USERNAME and OGENT_PASSWORD';
  } else if (env.OGENT_USERNAME || env.OGENT_PASSWORD) {
    return fail('only one of OGENT_USERNAME and OGENT_PASSWORD is set', 'set both, or neither', 'incomplete');
  } else if (!stored) {
    return fail(
      'not logged in',
      `run \`ogent login --controller ${base}\`, or set OGENT_USERNAME and OGENT_PASSWORD`,
      'not_logged_in',
    );
  } else if (new URL(stored.controller).origin !== base) {
    return fail(
      `logged in to ${stored.controller}, not to ${base}`,
      `run \`ogent login --controller ${base}\``,
      'other_controller',
    );
  } else {
    token = stored.token;
    how = '`ogent login`';
  }

  const res = await httpCall(
    new URL('/api/v1/agents', base),
    { headers: { authorization: `Bearer ${token}`, accept: 'application/json' } },
    probe,
  ).catch(() => undefined);
  if (!res) return fail('the controller stopped answering', 'run `ogent doctor` again');
  const body = parseJson(res.text) as { error?: string; message?: string } | undefined;
  const claims = claimsOf(token);
  const who = claims?.sub ? `"${claims.sub}"${claims.role ? ` (${claims.role})` : ''}` : 'a user';
  if (res.status === 200) {
    const validity = claims?.exp ? `; the token is valid for ${formatSpan(claims.exp * 1000 - Date.now())} more` : '';
    return { name: 'credentials', status: 'ok', message: `authenticated as ${who} with ${how}${validity}` };
  }
  if (res.status === 401 && body?.error === 'token_expired') {
    return fail(`the token from ${how} expired`, 'run `ogent login` again', 'token_expired');
  }
  if (res.status === 401) {
    return fail(
      `the controller does not accept the token from ${how} (another controller's, or its password was changed)`,
      `run \`ogent login --controller ${base}\``,
      body?.error ?? 'invalid_token',
    );
  }
  if (res.status === 403) {
    return fail(
      `${who} may not use the API: ${body?.message ?? 'forbidden'}`,
      'log in as a user, not as an agent',
      'forbidden',
    );
  }
  return fail(`checking the credentials failed: HTTP ${res.status}`, 'see the controller log');
}

function exitOf(check: CheckName): ExitCode {
  if (check === 'url') return EXIT.usage;
  // A controller that refuses this client's version cannot be used, as one that cannot be reached.
  if (check === 'controller' || check === 'tls' || check === 'version') return EXIT.unreachable;
  if (check === 'credentials') return EXIT.auth;
  return EXIT.runsFailed;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The token's claims, read without verifying (only to say who it is for; the controller verifies). */
function claimsOf(token: string): { sub?: string; role?: string; exp?: number } | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as {
      sub?: string;
      role?: string;
      exp?: number;
    };
  } catch {
    return undefined;
  }
}
