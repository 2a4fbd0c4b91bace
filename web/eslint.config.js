// Lint rules for the web client: TypeScript's recommended checks (with type information) and
// React's rules of hooks. Formatting is Prettier's job (`npm run format`), not ESLint's.
import js from '@eslint/js';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist', 'src/schema.d.ts'] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  reactHooks.configs.flat.recommended,
  {
    languageOptions: {
      globals: globals.browser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // A missing dependency is a stale-closure bug, not a style question.
      'react-hooks/exhaustive-deps': 'error',
    },
  },
  {
    // Build configuration runs in Node, outside the app's tsconfig.
    files: ['*.js', '*.ts'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: globals.node },
  },
  {
    files: ['src/media/pcm-worklet.js'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: globals.audioWorklet },
  },
);
