// @ts-check
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

const noTensorImports = {
  patterns: [
    {
      group: ['@x/tensor', '@x/tensor/*', '@tensorflow/*'],
      message:
        'logging and checkpoint must not depend on tensors (CONTRACT: dependency direction).',
    },
    {
      group: ['@x/ired', '@x/timestepper', '@x/operator-replay', '@x/runner'],
      message: 'infrastructure packages never import research packages or the app.',
    },
  ],
};
const researchPackages = ['@x/ired', '@x/timestepper', '@x/operator-replay'];

export default tseslint.config(
  {
    ignores: [
      '**/dist/**',
      '**/node_modules/**',
      'runs/**',
      'bench/out/**',
      '.gpu/**',
      '**/*.d.ts',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['eslint.config.js', '*.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true },
      ],
      'no-restricted-properties': [
        'error',
        {
          object: 'Math',
          property: 'random',
          message: 'Use a named seeded stream from @x/core (Rng).',
        },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.object.name='crypto'][callee.property.name='randomInt']",
          message: 'Use a seeded Rng stream.',
        },
      ],
    },
  },
  {
    files: ['packages/**/*.ts', 'packages/**/*.tsx'],
    ignores: ['**/*.test.ts', '**/*.test.tsx', '**/testing.ts', '**/bench/**'],
    rules: { 'no-console': 'error' },
  },
  {
    files: ['packages/core/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@x/*', '!@x/test-utils', '@tensorflow/*'],
              message: '@x/core depends on nothing of ours and has no tensor library.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['packages/logging/**', 'packages/checkpoint/**'],
    rules: { 'no-restricted-imports': ['error', noTensorImports] },
  },
  ...researchPackages.map((pkg) => ({
    files: [`packages/${pkg.slice(3)}/**`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: researchPackages.filter((p) => p !== pkg).concat(['@x/runner']),
              message: 'research packages never import each other or the app.',
            },
          ],
        },
      ],
    },
  })),
  {
    files: ['**/*.test.ts', '**/*.test.tsx', '**/testing.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
    },
  },
  { files: ['**/*.js', '**/*.mjs'], ...tseslint.configs.disableTypeChecked },
  prettier,
);
