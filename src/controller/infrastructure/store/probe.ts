import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Readiness of the embedded store: a small file can be written to and removed from the data dir. */
export async function probeDataDir(dataDir: string): Promise<void> {
  const file = join(dataDir, '.ready-probe');
  try {
    await writeFile(file, `${Date.now()}\n`, { mode: 0o600 });
    await rm(file, { force: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`data dir ${dataDir} is not writable${code ? ` (${code})` : ''}`, { cause: err });
  }
}
