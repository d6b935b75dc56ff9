// Lint: typescript-eslint's recommended rules plus the black-box rule (DESIGN §3):
// the suite reaches the platform only over its protocols; exactly one file, the embedded
// launcher, may import platform/.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const platformImport = {
  patterns: [
    {
      group: ['**/platform', '**/platform/**'],
      message:
        'Black box: the suite talks to the platform only over SIP/RTP, SMPP and HTTP. Only support/embedded-platform.ts may import platform/.',
    },
  ],
};

const suiteImport = {
  patterns: [
    {
      group: [
        '**/world/**',
        '**/support/**',
        '**/step-definitions/**',
        '**/tasks/**',
        '**/reporting/**',
        '**/tools/**',
      ],
      message: 'The reference platform must not depend on the suite: it is the system under test.',
    },
  ],
};

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      'allure-results/**',
      'allure-report/**',
      'reports/**',
      'cucumber.js',
      '.build/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: [
      'features/**',
      'step-definitions/**',
      'world/**',
      'support/**',
      'tasks/**',
      'reporting/**',
      'tools/**',
    ],
    ignores: ['support/embedded-platform.ts'],
    rules: { 'no-restricted-imports': ['error', platformImport] },
  },
  {
    files: ['platform/**'],
    rules: { 'no-restricted-imports': ['error', suiteImport] },
  },
);
