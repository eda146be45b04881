import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const available = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.startsWith('_'))
  .map((f) => f.slice(0, -3))
  .sort();
const [name, ...args] = process.argv.slice(2);
if (name === undefined || !available.includes(name)) {
  process.stderr.write(
    `usage: pnpm bench <name> [args]\nbenchmarks: ${available.join(', ') || '(none)'}\n`,
  );
  process.exit(name === undefined ? 0 : 2);
}
const mod = (await import(join(here, `${name}.ts`))) as { main: (args: string[]) => Promise<void> };
await mod.main(args);
