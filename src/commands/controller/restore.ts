import { Args } from '@oclif/core';
import { restoreStore } from '../../controller/backup.js';
import { createLogger } from '../../lib/log.js';
import { defaultDataDir } from '../../lib/paths.js';
import { BaseCommand, jsonFlag } from '../base.js';
import { storeError, storeFlags } from './store-flags.js';

export default class ControllerRestore extends BaseCommand {
  static override summary = 'Load a backup into a new data dir (or an empty Redis), migrated to this release.';
  static override description =
    'Refuses a data dir or Redis database that holds anything (exit 2), and writes nothing then. The backup is ' +
    'migrated from the schema it records, as `controller serve` would at start; then start a controller on it.';
  static override examples = [
    '<%= config.bin %> controller restore /var/backups/ogent/2026-05-01 --data-dir /var/lib/ogent-restored',
    '<%= config.bin %> controller restore /var/backups/ogent/2026-05-01 --redis redis://10.0.0.6:6379/0',
  ];
  static override args = { dir: Args.string({ required: true, description: 'A folder made by `controller backup`.' }) };
  static override flags = { ...storeFlags, json: jsonFlag };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(ControllerRestore);
    const dataDir = flags['data-dir'] ?? defaultDataDir();
    const log = createLogger('warn');
    const result = await restoreStore(args.dir, { dataDir, redis: flags.redis }, log).catch((err: unknown) => {
      throw storeError(err);
    });
    if (flags.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else
      process.stderr.write(
        `restored the backup of ${result.manifest.source} (${result.manifest.createdAt}, schema ` +
          `${result.manifest.schema}) into ${result.target}\n`,
      );
  }
}
