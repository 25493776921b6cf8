/**
 * npm run package [-- --target linux-x64 ...] [--no-code-cache]
 * Builds dist/ogent-linux-x64 and dist/ogent-linux-arm64 (one file each, Node.js inside), checks them and writes a
 * .sha256 beside each. See scripts/package/build.ts.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { packageBinaries } from './package/build.js';

const { values } = parseArgs({
  options: {
    target: { type: 'string', multiple: true },
    'no-code-cache': { type: 'boolean', default: false },
  },
});
const started = Date.now();
try {
  const built = await packageBinaries({
    root: fileURLToPath(new URL('..', import.meta.url)),
    targets: values.target,
    codeCache: !values['no-code-cache'],
  });
  for (const b of built) process.stdout.write(`${b.path}\n`);
  process.stderr.write(`package: done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
} catch (err) {
  process.stderr.write(`package: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
