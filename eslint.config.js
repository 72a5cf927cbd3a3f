import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Temporal's CommonJS packages that every `refit` command loads: the client's folders import only their types, and
 * load them with require (client/temporalClient.ts), since an ESM import first scans each for its export names.
 */
const requiredNotImported = {
  group: ['@temporalio/client', '@temporalio/common', '@temporalio/envconfig'],
  message: "import only types from Temporal's client packages here; load their values with require (see client/temporalClient.ts).",
  allowTypeImports: true,
};

/**
 * `folder` may not import from `forbidden` (types from `typesFrom` are allowed: they vanish at run time);
 * `options.clientPath`: the folder is on every command's start, see requiredNotImported.
 */
function layer(folder, forbidden, options = {}) {
  const typesFrom = new Set(options.typesFrom ?? []);
  const group = (names) => names.flatMap((name) => [`../${name}/**`, `../../${name}/**`, `../../../${name}/**`, `../../../../${name}/**`]);
  const patterns = [
    ...(forbidden.filter((name) => !typesFrom.has(name)).length
      ? [
          {
            group: group(forbidden.filter((name) => !typesFrom.has(name))),
            message: `${folder}/ must not import from ${forbidden.join(', ')} (see ARCHITECTURE.md).`,
          },
        ]
      : []),
    ...(typesFrom.size
      ? [
          {
            group: group([...typesFrom]),
            message: `${folder}/ may import only types from ${[...typesFrom].join(', ')} (see ARCHITECTURE.md).`,
            allowTypeImports: true,
          },
        ]
      : []),
    ...(options.clientPath ? [requiredNotImported] : []),
  ];
  return [{ files: [`${folder}/**/*.ts`], rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns }] } }];
}

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'bench/results/**', 'examples/**/.venv/**', 'test/fixtures/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    // Tests build deliberately loose and malformed inputs.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  // The layers the folders promise (ARCHITECTURE.md): each folder imports only the ones below it.
  ...layer('shared', ['spec', 'platform', 'activities', 'workflows', 'worker', 'client', 'devstack'], { typesFrom: ['spec'], clientPath: true }),
  ...layer('spec', ['shared', 'platform', 'activities', 'workflows', 'worker', 'client', 'devstack'], { clientPath: true }),
  ...layer('platform', ['spec', 'activities', 'workflows', 'worker', 'client', 'devstack'], { clientPath: true }),
  ...layer('activities', ['workflows', 'worker', 'client', 'devstack']),
  ...layer('worker', ['client', 'devstack']),
  ...layer('client', ['worker', 'workflows', 'devstack'], { typesFrom: [], clientPath: true }),
  {
    // Workflow code runs in Temporal's deterministic sandbox: no Node modules, clocks or randomness.
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['node:*', 'fs', 'path', 'os', 'child_process', 'crypto', 'http', 'https', 'net'],
              message: 'Workflow code must not do I/O: move it into an activity.',
            },
            {
              group: ['@temporalio/client', '@temporalio/worker', '@temporalio/activity', '../activities/*', '../activities/**/*.js'],
              message: 'Workflow code may only import @temporalio/workflow, shared/ and spec/ (and types from activities).',
              allowTypeImports: true,
            },
            {
              group: ['**/worker/**', '**/client/**', '**/devstack/**', '**/platform/**'],
              message: 'Workflow code may only import @temporalio/workflow, shared/ and spec/ (and types from activities).',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'setTimeout', message: 'Use sleep() from @temporalio/workflow.' },
        { name: 'setInterval', message: 'Use a loop with sleep() from @temporalio/workflow.' },
        { name: 'process', message: 'Workflow code must not read the environment.' },
      ],
      'no-restricted-properties': ['error', { object: 'Math', property: 'random', message: 'Use uuid4() or a value passed in from an activity.' }],
    },
  },
);
