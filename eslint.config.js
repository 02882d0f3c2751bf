import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['node_modules/', 'data/', '.herald-data/', 'dist/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', URL: 'readonly', AbortController: 'readonly', fetch: 'readonly' } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Kysely's values come from its CommonJS build, through src/core/store/kysely.ts (idle memory, one build)
      '@typescript-eslint/no-restricted-imports': ['error', {
        paths: [{ name: 'kysely', message: "import Kysely's values from src/core/store/kysely.ts (import type from 'kysely' is fine)", allowTypeImports: true }],
      }],
    },
  },
  { files: ['src/core/store/kysely.ts'], rules: { '@typescript-eslint/no-restricted-imports': 'off' } },
)
