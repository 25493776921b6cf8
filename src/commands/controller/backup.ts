import { Args } from '@oclif/core';
import { backupStore } from '../../controller/backup.js';
import { defaultDataDir } from '../../lib/paths.js';
import { BaseCommand, jsonFlag } from '../base.js';
import { storeError, storeFlags } from './store-flags.js';

export default class ControllerBackup extends BaseCommand {
  static override summary = 'Copy the store (users, agents, join tokens, jobs, output, audit, secret) to a new folder.';
  static override description =
    'Safe while the controller runs: each file is copied whole, job documents before their output. The folder ' +
    'records the schema version; `ogent controller restore` loads it into a new data dir or an empty Redis. A ' +
    'DIR that is not empty is refused (exit 2).';
  static override examples = [
    '<%= config.bin %> controller backup /var/backups/ogent/$(date +%F) --data-dir /var/lib/ogent',
    '<%= config.bin %> controller backup /var/backups/ogent/$(date +%F) --redis redis://10.0.0.5:6379/0',
  ];
  static override args = { dir: Args.string({ required: true, description: 'A new or empty folder.' }) };
  static override flags = { ...storeFlags, json: jsonFlag };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(ControllerBackup);
    const dataDir = flags['data-dir'] ?? defaultDataDir();
    const result = await backupStore({ dataDir, redis: flags.redis }, args.dir).catch((err: unknown) => {
      throw storeError(err);
    });
    if (flags.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else
      process.stderr.write(
        `backed up ${result.source} (schema ${result.schema}) to ${result.dir}: ` +
          `${result.jobs} jobs, ${result.outputFiles} output files\n`,
      );
  }
}
