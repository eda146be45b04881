import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
