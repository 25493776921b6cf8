import { build, type Plugin } from 'esbuild';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

/**
 * esbuild: the CLI (scripts/package/sea-main.ts → src/command-modules.ts → everything) into ONE CommonJS file, which is what
 * a Node single executable runs. What CommonJS cannot express is rewritten here, and each rewrite checks that the
 * code it rewrites is still there, so a dependency upgrade fails the build instead of the binary.
 */
export interface BundleOptions {
  root: string;
  outfile: string;
  pjson: { name: string; version: string; type?: string; oclif: Record<string, unknown> };
  minify?: boolean;
}

export async function bundle(options: BundleOptions): Promise<{ warnings: string[] }> {
  const { name, version, type, oclif } = options.pjson;
  const result = await build({
    entryPoints: [join(options.root, 'scripts/package/sea-main.ts')],
    outfile: options.outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node22',
    // Not minified: as fast to start with the code cache (measured), and stack traces stay readable.
    minify: options.minify ?? false,
    keepNames: true,
    legalComments: 'none',
    logLevel: 'silent',
    // oclif's tsconfig reader (development only) and ws's optional native speed-ups: never needed in the binary.
    external: ['typescript', 'bufferutil', 'utf-8-validate'],
    define: { OGENT_PJSON: JSON.stringify({ name, version, type, oclif }) },
    plugins: [versionConstant(version), yogaSync(), inkWithoutTopLevelAwait(), devtoolsStub()],
  });
  return { warnings: result.warnings.map((w) => `${w.location?.file ?? ''}: ${w.text}`) };
}

/** Replaces `text` in `code` (which must contain it) by `by`. */
function rewrite(code: string, text: string | RegExp, by: string, file: string): string {
  const found = typeof text === 'string' ? code.includes(text) : text.test(code);
  if (!found) throw new Error(`package: ${file} no longer contains ${String(text)}; the bundle rewrite needs updating`);
  return code.replace(text, by);
}

/** src/lib/version.ts reads ../../package.json beside itself; the binary has no package.json. */
function versionConstant(version: string): Plugin {
  return {
    name: 'ogent-version',
    setup(b) {
      b.onLoad({ filter: /[\\/]src[\\/]lib[\\/]version\.ts$/ }, async (args) => {
        const code = await readFile(args.path, 'utf8');
        rewrite(code, /export const VERSION\b/, '', args.path);
        return { contents: `export const VERSION: string = ${JSON.stringify(version)};\n`, loader: 'ts' };
      });
    },
  };
}

/**
 * yoga-layout (Ink's layout engine) is an ES module whose entry does `export default wrapAssembly(await loadYoga())`:
 * top-level await, which CommonJS cannot have. Its Emscripten loader accepts `instantiateWasm`, so the module is
 * compiled and instantiated synchronously instead (`new WebAssembly.Module`), and `yoga-layout` resolves to a shim
 * that does that when Ink is first loaded — only when the live view is drawn, never for `--version` or a cron job.
 */
function yogaSync(): Plugin {
  return {
    name: 'ogent-yoga-sync',
    setup(b) {
      b.onResolve({ filter: /^yoga-layout$/ }, async (args) => {
        const load = await b.resolve('yoga-layout/load', { resolveDir: args.resolveDir, kind: args.kind });
        if (load.errors.length) return { errors: load.errors };
        return { path: resolve(dirname(load.path), '../..'), namespace: 'ogent-yoga' };
      });
      b.onLoad({ filter: /.*/, namespace: 'ogent-yoga' }, (args) => ({
        resolveDir: args.path,
        loader: 'js',
        contents: `
import loadYoga, { WASM_BASE64 } from './dist/binaries/yoga-wasm-base64-esm.js';
import wrapAssembly from './dist/src/wrapAssembly.js';
export * from './dist/src/generated/YGEnums.js';
const yogaModule = {
  instantiateWasm(imports, receive) {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(WASM_BASE64, 'base64')), imports);
    receive(instance);
    return instance.exports;
  },
};
loadYoga(yogaModule);
if (!yogaModule.calledRun) throw new Error('yoga-layout did not initialise synchronously');
export default wrapAssembly(yogaModule);
`,
      }));
      b.onLoad({ filter: /[\\/]yoga-wasm-base64-esm\.js$/ }, async (args) => {
        let code = await readFile(args.path, 'utf8');
        const wasm = /"data:application\/octet-stream;base64,([A-Za-z0-9+/=]+)"/.exec(code)?.[1];
        if (!wasm) throw new Error(`package: no inline WebAssembly found in ${args.path}`);
        code = rewrite(code, `"data:application/octet-stream;base64,${wasm}"`, '""', args.path);
        code = rewrite(code, 'var _scriptDir = import.meta.url;', 'var _scriptDir = "";', args.path);
        return { contents: `${code}\nexport const WASM_BASE64 = ${JSON.stringify(wasm)};\n`, loader: 'js' };
      });
    },
  };
}

/**
 * Ink's reconciler awaits two imports at top level, both only when DEV=true (React DevTools). The binary has no
 * DevTools, so those branches become plain values.
 */
function inkWithoutTopLevelAwait(): Plugin {
  return {
    name: 'ogent-ink-no-tla',
    setup(b) {
      b.onLoad({ filter: /[\\/]ink[\\/]build[\\/]reconciler\.js$/ }, async (args) => {
        let code = await readFile(args.path, 'utf8');
        code = rewrite(code, "await import('./devtools.js');", '', args.path);
        code = rewrite(code, 'await loadPackageJson()', '{ name: undefined, version: undefined }', args.path);
        return { contents: code, loader: 'js' };
      });
    },
  };
}

/** react-devtools-core (an optional peer of Ink) is aliased to nothing. */
function devtoolsStub(): Plugin {
  return {
    name: 'ogent-devtools-stub',
    setup(b) {
      b.onResolve({ filter: /^react-devtools-core$/ }, () => ({
        path: 'react-devtools-core',
        namespace: 'ogent-stub',
      }));
      b.onLoad({ filter: /.*/, namespace: 'ogent-stub' }, () => ({ contents: 'module.exports = {};', loader: 'js' }));
    },
  };
}
