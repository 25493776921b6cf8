import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const PROCESS_PATHS = [{ name: 'node:child_process', message: 'run processes through src/lib/process.ts (execa)' }];

/** Folders of src/ as an import names them (`../client/http.js`, `../../agent/index.js`). */
const FOLDER = {
  domain: '**/domain/**',
  protocol: '**/protocol/**',
  lib: '**/lib/**',
  controller: '**/controller/**',
  infrastructure: '**/infrastructure/**',
  agent: '**/agent/**',
  client: '**/client/**',
  ui: '**/ui/**',
  commands: '**/commands/**',
};

/**
 * A rule for `files`: none of `forbidden` (folder names of FOLDER, or patterns), with why. `allow`: exceptions.
 * `more`: further `patterns` entries for the same files (one config per files, since a later one would replace it).
 */
function layer(files, forbidden, why, allow = [], more = []) {
  const group = [...forbidden.map((f) => FOLDER[f] ?? f), ...allow.map((a) => `!${a}`)];
  return {
    files,
    rules: {
      'no-restricted-imports': ['error', { paths: PROCESS_PATHS, patterns: [{ group, message: why }, ...more] }],
    },
  };
}

/** Adapters authenticate only: the role checks are the services' and `application/access.ts` `authorize`'s (§7.1). */
const ROLE_CHECKS = {
  group: ['**/application/auth-service.js'],
  importNames: ['requireRole', 'requireAdmin', 'requireSelfOrAdmin'],
  message:
    'adapters check no roles: name the operation with authorize (application/access.ts), docs/architecture.md §7.1',
};

const LAYERS = [
  layer(
    ['src/domain/**'],
    ['protocol', 'lib', 'controller', 'agent', 'client', 'ui', 'commands'],
    'domain/ is pure: it imports nothing of ours outside domain/',
  ),
  layer(
    ['src/protocol/**'],
    ['lib', 'controller', 'agent', 'client', 'ui', 'commands'],
    'protocol/ imports only domain/',
  ),
  layer(
    ['src/lib/**'],
    ['domain', 'protocol', 'controller', 'agent', 'client', 'ui', 'commands'],
    'lib/ is usable by all: it imports nothing of ours but lib/',
  ),
  // The controller's HTTP client speaks its protocol (the version header, error codes): docs/architecture.md §2.2.
  layer(
    ['src/lib/http-client.ts'],
    ['domain', 'controller', 'agent', 'client', 'ui', 'commands'],
    'lib/http-client.ts imports only lib/ and protocol/',
  ),
  layer(
    ['src/controller/application/**'],
    ['infrastructure', 'agent', 'client', 'ui', 'commands'],
    'controller/application/ reaches infrastructure only through its ports (application/ports.ts)',
  ),
  layer(
    ['src/controller/infrastructure/**'],
    ['agent', 'client', 'ui', 'commands'],
    'the controller imports no agent (but lazily, controller/local-agent.ts), client, ui or commands',
    [],
    [ROLE_CHECKS],
  ),
  layer(['src/controller/*.ts'], ['client', 'ui', 'commands'], 'the controller imports no client, ui or commands'),
  layer(
    ['src/agent/**'],
    ['client', 'controller', 'ui', 'commands'],
    'agent/ imports only domain/, protocol/ and lib/ (the shared HTTP client is lib/http-client.ts)',
  ),
  layer(
    ['src/client/**'],
    ['controller', 'agent', 'commands', 'ui'],
    'client/ uses ui/ only through ui/renderers.ts, and no controller, agent or commands',
    ['**/ui/renderers.js'],
  ),
  layer(
    ['src/ui/**'],
    ['client', 'controller', 'agent', 'commands'],
    'ui/ takes its types from protocol/ and domain/, never from client/',
  ),
  layer(
    ['src/commands/**'],
    ['**/controller/serve.js'],
    'a command does not import another command: shared code goes to a neutral module (lib/, commands/base.ts…)',
  ),
];

export default tseslint.config(
  { ignores: ['lib/**', 'dist/**', 'node_modules/**', 'eslint.config.js', 'bin/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-restricted-imports': ['error', { paths: PROCESS_PATHS }],
    },
  },
  // One direction for imports (docs/architecture.md §2.1): commands → (client | controller | agent) → protocol → domain.
  ...LAYERS,
  // Tests, benchmarks and build scripts spawn real processes (the executable, floors, node itself).
  { files: ['test/**', 'scripts/**'], rules: { 'no-restricted-imports': 'off' } },
);
