import { resolve } from 'node:path';
import { Flags } from '@oclif/core';
import { DEFAULT_CONTROLLER, readStored, writeStored } from '../client/credentials.js';
import { login, normalizeUrl } from '../client/http.js';
import { readPassword } from '../client/prompt.js';
import { readCa } from '../client/tls.js';
import { formatSpan } from '../domain/duration.js';
import { usageError } from '../lib/errors.js';
import { checkPlainHttpUrl, INSECURE_HTTP_SUMMARY } from '../lib/plain-http.js';
import { BaseCommand, connectionFlags } from './base.js';

export default class Login extends BaseCommand {
  static override summary =
    'Log in to a controller and keep the tokens (file mode 0600) for the other commands: renewed for a working day.';
  static override examples = [
    {
      description: 'Interactive',
      command: '<%= config.bin %> login --controller http://127.0.0.1:8600 --username admin',
    },
    {
      description: 'From a script',
      command: 'printf %s "$PW" | <%= config.bin %> login --username ops --password-stdin',
    },
    {
      description: 'Plain HTTP to another host (a lab): allowed for this login and the later commands to it',
      command: '<%= config.bin %> login --controller http://10.0.0.5:8600 --username admin --insecure-http',
    },
  ];
  static override flags = {
    controller: Flags.string({ summary: 'Controller URL.', env: 'OGENT_CONTROLLER', helpValue: 'URL' }),
    username: Flags.string({ char: 'u', summary: 'User name.', env: 'OGENT_USERNAME' }),
    'password-stdin': Flags.boolean({ summary: 'Read the password from standard input.' }),
    ca: Flags.string({
      summary: 'Trust this CA certificate (PEM) for an https:// controller; later commands use it too.',
      env: 'OGENT_CA',
      helpValue: 'FILE',
    }),
    'request-timeout': connectionFlags['request-timeout'],
    'insecure-http': Flags.boolean({
      summary: `${INSECURE_HTTP_SUMMARY} Kept for the later commands to this controller.`,
      env: 'OGENT_INSECURE_HTTP',
    }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Login);
    const stored = await readStored();
    const controller = normalizeUrl(flags.controller ?? stored?.controller ?? DEFAULT_CONTROLLER);
    const caFile = flags.ca ? resolve(flags.ca) : stored && stored.controller === controller ? stored.ca : undefined;
    const ca = caFile ? await readCa(caFile) : undefined;
    checkPlainHttpUrl(controller, flags['insecure-http']);
    const username = flags.username ?? stored?.username;
    if (!username) throw usageError('no user name: pass --username');
    const password =
      !flags['password-stdin'] && process.env.OGENT_PASSWORD
        ? process.env.OGENT_PASSWORD
        : await readPassword({ fromStdin: flags['password-stdin'], prompt: `Password for ${username}: ` });
    const res = await login(controller, username, password, ca, flags['request-timeout']);
    const path = await writeStored({
      controller,
      username,
      token: res.access_token,
      expiresAt: new Date(Date.now() + res.expires_in * 1000).toISOString(),
      ...(res.refresh_token && res.refresh_expires_in
        ? {
            refreshToken: res.refresh_token,
            refreshExpiresAt: new Date(Date.now() + res.refresh_expires_in * 1000).toISOString(),
          }
        : {}),
      ...(caFile ? { ca: caFile } : {}),
      ...(flags['insecure-http'] ? { insecureHttp: true } : {}),
    });
    const session = res.refresh_expires_in ? `, session for ${formatSpan(res.refresh_expires_in * 1000)}` : '';
    process.stderr.write(
      `logged in to ${controller} as ${username} (token valid for ${formatSpan(res.expires_in * 1000)}${session}, kept in ${path})\n`,
    );
  }
}
