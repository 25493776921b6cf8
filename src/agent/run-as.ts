import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { StartupError } from '../lib/errors.js';
import { captureCommand, type RunAsUser } from '../lib/process.js';

function onPath(name: string, path = process.env.PATH ?? ''): string | null {
  for (const dir of [...path.split(delimiter), '/usr/bin', '/bin', '/usr/sbin', '/sbin']) {
    if (!dir) continue;
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      if (statSync(file).isFile()) return file;
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * `agent run --run-as USER`: the user's uid, gid, supplementary groups, home and shell, looked up through NSS
 * (`getent passwd`, `id -G`), so LDAP and sssd users work too. Throws StartupError: the agent is not root, the user
 * is unknown, or `setpriv` (util-linux) is missing.
 */
export async function resolveRunAs(name: string, uid = process.getuid?.()): Promise<RunAsUser> {
  if (uid !== 0) {
    throw new StartupError(
      `--run-as ${name} needs the agent to run as root (it runs as uid ${uid ?? 'unknown'}): start it as root, or drop --run-as`,
    );
  }
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$/.test(name) || name.length > 64) {
    throw new StartupError(`--run-as "${name}" is not a valid user name`);
  }
  const setpriv = onPath('setpriv');
  if (!setpriv)
    throw new StartupError('--run-as needs setpriv (util-linux) on PATH to switch users: install util-linux');
  const passwd = await captureCommand('getent', ['passwd', name]);
  if (passwd.error) throw new StartupError(`--run-as: cannot look up users: getent: ${passwd.error}`);
  const fields = passwd.stdout.trim().split('\n')[0]?.split(':') ?? [];
  if (passwd.exitCode !== 0 || fields.length < 7 || fields[0] !== name) {
    throw new StartupError(`--run-as: no user "${name}" on this host`);
  }
  const [, , uidText, gidText, , home = '/', shell = '/bin/sh'] = fields;
  const groups = await captureCommand('id', ['-G', name]);
  if (groups.exitCode !== 0) throw new StartupError(`--run-as: cannot read the groups of "${name}": ${groups.stderr}`);
  return {
    name,
    uid: Number(uidText),
    gid: Number(gidText),
    groups: [...new Set(groups.stdout.trim().split(/\s+/).filter(Boolean).map(Number))],
    home,
    shell: shell || '/bin/sh',
    setpriv,
  };
}
