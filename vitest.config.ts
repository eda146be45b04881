import { readdirSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

// One project per workspace package, all with the same settings: tests resolve our packages'
// `@x/source` condition (src/, no build needed); the project name is the folder name.
const workspaces = ['packages', 'apps'].flatMap((dir) =>
  readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => ({ dir: `${dir}/${entry.name}`, name: entry.name })),
);

export default defineConfig({
  resolve: { conditions: ['@x/source'] },
  ssr: { resolve: { conditions: ['@x/source'] } },
  test: {
    projects: workspaces.map(({ dir, name }) => ({
      extends: true,
      test: { name, root: dir, restoreMocks: true },
    })),
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
