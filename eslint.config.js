import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['lib/**', 'dist/**', 'node_modules/**', 'eslint.config.js', 'bin/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-restricted-imports': [
        'error',
        { paths: [{ name: 'node:child_process', message: 'run processes through src/lib/process.ts' }] },
      ],
    },
  },
  // The one module that starts processes (src/lib/process.ts) uses child_process itself (BENCHMARKS.md, fanout).
  { files: ['src/lib/process.ts'], rules: { 'no-restricted-imports': 'off' } },
  // Tests, benchmarks and build scripts spawn real processes (the executable, floors, node itself).
  { files: ['test/**', 'scripts/**'], rules: { 'no-restricted-imports': 'off' } },
);
