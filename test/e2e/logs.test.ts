import { expect } from 'chai';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { login, request } from '../../src/client/http.js';
import { json, FakeChatServer } from '../helpers/ai-server.js';
import { runCli, startDaemon, type Daemon } from '../helpers/cli.js';
import { waitFor } from '../helpers/fixtures.js';
import { freePort } from '../helpers/processes.js';

const ADMIN_PW = 'adm-Secret-pw-4417';
const OPS_PW = 'ops-Secret-pw-9021';
const NEW_OPS_PW = 'ops-New-secret-pw-5530';
const WRONG_PW = 'wrong-Secret-pw-7788';
const AGENT_PW = 'agent-Secret-pw-3141';
const AI_KEY = 'sk-test-Secret-key-2718';
const ENV_SECRET = 'env-Secret-value-1618';

/** A whole flow at debug level, with real processes: their logs hold no password, token or key. */
describe('logs of a full flow (real processes, debug level)', function () {
  this.timeout(90_000);
  let root: string;
  const daemons: Daemon[] = [];
  let ai: FakeChatServer;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'ogent-logs-'));
    ai = await new FakeChatServer().start();
  });
  afterEach(async () => {
    for (const d of daemons.splice(0).reverse()) await d.stop('SIGKILL');
    await ai.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('carry job and run ids, and never a password, token, API key or Authorization header', async () => {
    const port = await freePort();
    const controller = await startDaemon(
      [
        'controller',
        'serve',
        '--port',
        String(port),
        '--data-dir',
        join(root, 'data'),
        '--log-level',
        'debug',
        '--ai-base-url',
        ai.baseUrl,
        '--ai-model',
        'test-model',
      ],
      /listening on (http:\/\/\S+)/,
      { env: { OGENT_ADMIN_PASSWORD: ADMIN_PW, OGENT_AI_API_KEY: AI_KEY } },
    );
    daemons.push(controller);
    const url = controller.match[1] as string;
    const tokens: string[] = [];
    const adminToken = (await login(url, 'admin', ADMIN_PW)).access_token;
    tokens.push(adminToken);
    for (const [name, role, password] of [
      ['ops', 'operator', OPS_PW],
      ['lg-1', 'agent', AGENT_PW],
    ]) {
      const res = await request(url, '/api/v1/users', {
        method: 'POST',
        token: adminToken,
        body: { name, role, password },
      });
      expect(res.status, res.text).to.equal(201);
    }

    const agent = await startDaemon(
      [
        'agent',
        'run',
        '--controller',
        url,
        '--name',
        'lg-1',
        '--state-dir',
        join(root, 'state'),
        '--log-level',
        'debug',
      ],
      /"msg":"connected"/,
      { env: { OGENT_PASSWORD: AGENT_PW } },
    );
    daemons.push(agent);

    const env = { OGENT_CONTROLLER: url, XDG_CONFIG_HOME: root };
    const cli = (args: string[], extra: Record<string, string> = {}, input?: string) =>
      runCli(args, { env: { ...env, ...extra }, input, timeoutMs: 60_000 });
    const expectCode = async (args: string[], code: number, extra?: Record<string, string>, input?: string) => {
      const res = await cli(args, extra, input);
      expect(res.code, `${args.join(' ')}: ${res.stderr}`).to.equal(code);
      return res;
    };

    await expectCode(['login', '--username', 'ops', '--password-stdin'], 3, {}, WRONG_PW);
    await expectCode(['login', '--username', 'ops', '--password-stdin'], 0, {}, OPS_PW);
    const stored = JSON.parse(await readFile(join(root, 'ogent', 'credentials.json'), 'utf8')) as { token: string };
    tokens.push(stored.token);
    const exec = await expectCode(
      ['exec', '-t', 'lg-1', '--json', '--env', `API_TOKEN=${ENV_SECRET}`, '--', 'echo hi'],
      0,
    );
    const jobId = (JSON.parse(exec.stdout) as { id: string }).id;
    await expectCode(['exec', '-t', 'lg-1', '--', 'echo out; echo err >&2; exit 3'], 1);
    await expectCode(['jobs', 'logs', jobId], 0);
    await expectCode(['agents', 'show', 'lg-1'], 0);
    await expectCode(['doctor'], 0);

    ai.reply = () => json({ command: 'echo from-ai', explanation: 'Says hello.', risk: 'low', risks: [] });
    const admin = { OGENT_USERNAME: 'admin', OGENT_PASSWORD: ADMIN_PW };
    await expectCode(['exec', '-t', 'lg-1', '--ai', '--yes', 'say hello'], 0, admin);
    ai.reply = () => ({ status: 401, body: JSON.stringify({ error: { message: `invalid api key ${AI_KEY}` } }) });
    await expectCode(['exec', '-t', 'lg-1', '--ai', '--yes', 'say hello'], 1, admin);
    await expectCode(['users', 'passwd', 'ops', '--password-stdin'], 0, admin, NEW_OPS_PW);
    tokens.push((await login(url, 'ops', NEW_OPS_PW)).access_token);
    await waitFor(() => agent.output().includes('"msg":"run started"'), 'the agent to log its runs');

    await controller.stop('SIGTERM');
    await agent.stop('SIGTERM');
    const logs = { controller: controller.output(), agent: agent.output() };
    for (const [who, text] of Object.entries(logs)) {
      for (const secret of [ADMIN_PW, OPS_PW, NEW_OPS_PW, WRONG_PW, AGENT_PW, AI_KEY, ENV_SECRET, ...tokens]) {
        expect(text, `${who} log holds ${secret.slice(0, 12)}…`).not.to.include(secret);
      }
      expect(text, `${who} log holds a JWT`).not.to.match(/eyJ[\w-]+\.eyJ/);
      expect(text, `${who} log holds a bearer credential`).not.to.match(/bearer\s+(?!\[redacted\])\S/i);
    }

    // Everything but the controller's "listening on" line is a JSON document with a level, a time and a message.
    const entries = Object.values(logs)
      .join('')
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('ogent controller listening'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const entry of entries) expect(entry).to.include.keys('level', 'time', 'msg');
    const messages = entries.map((e) => e.msg);
    expect(messages).to.include.members([
      'login refused',
      'job created',
      'run started',
      'run finished',
      'job finished',
    ]);
    // A line about a run says which job it belongs to.
    for (const entry of entries.filter((e) => 'runId' in e)) {
      expect(entry.jobId, JSON.stringify(entry)).to.equal(String(entry.runId).replace(/_\d+$/, ''));
    }
    expect(entries.filter((e) => e.jobId === jobId).map((e) => e.msg)).to.include.members([
      'job created',
      'run started',
      'run finished',
      'job finished',
    ]);
  });
});
