import { defineProject } from 'vitest/config';

export default defineProject({
  resolve: { conditions: ['@x/source'] },
  ssr: { resolve: { conditions: ['@x/source'] } },
  test: { name: 'operator-replay', restoreMocks: true, testTimeout: 120_000, hookTimeout: 120_000 },
});
