import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Flags } from '@oclif/core';
import { UserError } from '../../lib/errors.js';
import { defaultDataDir } from '../../lib/paths.js';
import { certificateFingerprint } from '../../lib/x509.js';
import { BaseCommand, jsonFlag } from '../base.js';

export default class ControllerCa extends BaseCommand {
  static override summary = "Print the controller's own CA certificate (PEM) and its sha256 fingerprint.";
  static override description =
    'A controller started off loopback without --tls-cert serves HTTPS with its own CA, kept in DATA_DIR/tls. ' +
    'Clients pass that certificate with --ca FILE; agents enrolled with a join token pin it by themselves. ' +
    'Run on the controller host, as the user that owns the data dir. Anyone may also fetch it with ' +
    'GET /ca.pem: compare its fingerprint with this one before trusting it.';
  static override examples = [
    '<%= config.bin %> controller ca > ogent-ca.pem',
    '<%= config.bin %> controller ca --data-dir /var/lib/ogent-controller --json',
  ];
  static override flags = {
    'data-dir': Flags.string({ summary: 'Where the store lives.', env: 'OGENT_DATA_DIR', helpValue: 'DIR' }),
    json: jsonFlag,
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(ControllerCa);
    const path = join(flags['data-dir'] ?? defaultDataDir(), 'tls', 'ca.pem');
    let pem: string;
    try {
      pem = await readFile(path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new UserError(
        code === 'ENOENT'
          ? `no CA in ${path}: the controller creates it when it first serves off loopback without --tls-cert`
          : `cannot read ${path} (${code})`,
        {
          code: 'ERR_NO_CA',
          exit: 1,
          suggestion: 'pass the --data-dir of `controller serve`, and run as the user that owns it',
        },
      );
    }
    const fingerprint = certificateFingerprint(pem);
    if (flags.json) {
      process.stdout.write(`${JSON.stringify({ path, fingerprint, pem }, null, 2)}\n`);
      return;
    }
    process.stdout.write(pem);
    process.stderr.write(`${path}\n${fingerprint}\n`);
  }
}
