import { createRequire } from 'node:module';

/** The runner's `engines.node` range (`>=22.19`): undici 8 and the packages need it. */
const ENGINES: string = (
  createRequire(import.meta.url)('../package.json') as { engines: { node: string } }
).engines.node;

function parts(v: string): number[] {
  return v
    .replace(/^v/, '')
    .split('.')
    .map((p) => Number.parseInt(p, 10) || 0);
}

/**
 * Why this Node.js cannot run the runner (`version` as in `process.versions.node`, against a
 * `>=X.Y[.Z]` range), or undefined when it can.
 */
export function unsupportedNode(version: string, range: string = ENGINES): string | undefined {
  const min = /^>=\s*(\d+(?:\.\d+){0,2})$/.exec(range.trim())?.[1];
  if (min === undefined) return undefined;
  const [have, want] = [parts(version), parts(min)];
  for (let i = 0; i < 3; i++) {
    const d = (have[i] ?? 0) - (want[i] ?? 0);
    if (d > 0) return undefined;
    if (d < 0) {
      return (
        `needs Node.js ${min} or newer, this is ${version}. ` +
        '`pnpm runner …` runs it on the Node 24 that `pnpm install` put at node_modules/.bin/node; ' +
        'otherwise install Node.js 24 LTS'
      );
    }
  }
  return undefined;
}
