import { cp, lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { login, request } from '../../src/client/http.js';
import type { Agent } from '../../src/domain/model.js';

/** A data dir written by the first release (commit 2c84d71; made by test/fixtures/make-store-v1.sh). */
export const STORE_V1 = fileURLToPath(new URL('../fixtures/store-v1', import.meta.url));
export const V1_PASSWORDS = { admin: 'admin-pass-v1', olive: 'olive-pass-v1', vera: 'vera-pass-v1' };
export const V1_JOBS = {
  hello: { id: 'j0mx67xmflb30494f26d', stdout: 'hello from v1\n', stderr: 'to-stderr\n' },
  failed: { id: 'j0mx67xn0vc2971064b6', stdout: 'line 1\nline 2\nline 3\n' },
};

export async function copyStoreV1(to: string): Promise<void> {
  await cp(STORE_V1, to, { recursive: true });
}

/** Every file and directory under `dir`: its mode and, for files, its bytes (base64). */
export async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const visit = async (rel: string) => {
    for (const name of await readdir(join(dir, rel))) {
      const path = join(rel, name);
      const stat = await lstat(join(dir, path));
      const mode = (stat.mode & 0o7777).toString(8);
      if (stat.isDirectory()) {
        out[`${path}/`] = mode;
        await visit(path);
      } else out[path] = `${mode} ${(await readFile(join(dir, path))).toString('base64')}`;
    }
  };
  await visit('');
  return out;
}

/**
 * What today's controller at `url` must serve from the first release's store: its users log in with their
 * passwords, its jobs are listed with their output, and web-1's labels route as before.
 */
export async function expectV1Served(url: string): Promise<void> {
  const olive = (await login(url, 'olive', V1_PASSWORDS.olive)).access_token;
  const vera = (await login(url, 'vera', V1_PASSWORDS.vera)).access_token;
  await login(url, 'admin', V1_PASSWORDS.admin);
  const listed = await request<{ jobs: Array<{ id: string; status: string }> }>(url, '/api/v1/jobs', { token: vera });
  expect(listed.body.jobs.map((j) => [j.id, j.status])).to.deep.equal([
    [V1_JOBS.failed.id, 'failed'],
    [V1_JOBS.hello.id, 'succeeded'],
  ]);
  const output = async (job: string, run: string, stream: string) =>
    (
      await fetch(`${url}/api/v1/jobs/${job}/runs/${job}_${run}/output?stream=${stream}`, {
        headers: { authorization: `Bearer ${olive}` },
      })
    ).text();
  expect(await output(V1_JOBS.hello.id, '0', 'stdout')).to.equal(V1_JOBS.hello.stdout);
  expect(await output(V1_JOBS.hello.id, '1', 'stderr')).to.equal(V1_JOBS.hello.stderr);
  expect(await output(V1_JOBS.failed.id, '0', 'stdout')).to.equal(V1_JOBS.failed.stdout);
  const agents = await request<Agent[] | { agents: Agent[] }>(url, '/api/v1/agents', { token: olive });
  const list = Array.isArray(agents.body) ? agents.body : agents.body.agents;
  expect(list.find((a) => a.name === 'web-1')?.labels).to.deep.equal({ role: 'web', tier: 'front' });
}
