// Installs each published package as a user would and runs its README example there.
//
// For every public package: checks that its README shows examples/<name>.ts verbatim and names
// the `npm install` line the example needs, packs it with pnpm (workspace:* and catalog: become
// real versions), lints the tarball (publint --strict, attw ESM-only), then creates a fresh npm
// project in a temp dir outside the workspace, installs that tarball (plus the tarballs of the
// @x packages it depends on, which stand in for the registry) and the example's other imports
// from the registry, and runs the example with this Node. Needs `pnpm build` first.
//
// Run: pnpm test:packages [name ...]
import { execFileSync, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  dependencies?: Record<string, string>;
}

const root = resolve(import.meta.dirname, '..');
const bin = join(root, 'node_modules', '.bin');
const pnpm = process.env['npm_execpath'];
const keep = process.argv.includes('--keep');
const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const failures: string[] = [];

function run(cmd: string, args: string[], cwd: string, timeoutMs = 300_000): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: timeoutMs, env: process.env });
  if (r.status !== 0) {
    throw new Error(
      `${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.status ?? r.signal}\n${r.stdout}${r.stderr}`,
    );
  }
  return r.stdout;
}

function pnpmRun(args: string[], cwd: string): string {
  return pnpm === undefined ? run('pnpm', args, cwd) : run(process.execPath, [pnpm, ...args], cwd);
}

function catalog(): Map<string, string> {
  const text = readFileSync(join(root, 'pnpm-workspace.yaml'), 'utf8');
  const entries = text.split('\ncatalog:\n')[1] ?? '';
  const map = new Map<string, string>();
  for (const line of entries.split('\n')) {
    const m = /^ {2}'?([^':]+)'?: (.+)$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) map.set(m[1], m[2].trim());
  }
  return map;
}

const packages = new Map<string, { dir: string; manifest: Manifest }>();
for (const entry of readdirSync(join(root, 'packages'))) {
  const dir = join(root, 'packages', entry);
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;
  if (manifest.private !== true) packages.set(manifest.name, { dir, manifest });
}

/** The package and the @x packages it depends on, transitively. */
function closure(name: string, seen = new Set<string>()): Set<string> {
  if (seen.has(name)) return seen;
  seen.add(name);
  for (const dep of Object.keys(packages.get(name)?.manifest.dependencies ?? {})) {
    if (packages.has(dep)) closure(dep, seen);
  }
  return seen;
}

function bareImports(source: string): string[] {
  const names = new Set<string>();
  for (const m of source.matchAll(/\bfrom '([^'.][^']*)'/g)) {
    const spec = m[1] ?? '';
    if (spec.startsWith('node:')) continue;
    const parts = spec.split('/');
    names.add(spec.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? spec));
  }
  return [...names];
}

const work = mkdtempSync(join(tmpdir(), 'x-pack-check-'));
const tarballs = join(work, 'tarballs');
mkdirSync(tarballs);
const versions = catalog();
const started = Date.now();
try {
  const selected = [...packages.keys()].filter(
    (n) => only.length === 0 || only.includes(n.split('/')[1] ?? n),
  );
  const needed = new Set(selected.flatMap((n) => [...closure(n)]));
  const tarballOf = new Map<string, string>();
  for (const name of needed) {
    const { dir, manifest } = packages.get(name) ?? { dir: '', manifest: { name, version: '' } };
    if (!existsSync(join(dir, 'dist', 'index.js'))) {
      throw new Error(`${name}: no dist/index.js — run \`pnpm build\` first`);
    }
    pnpmRun(['pack', '--pack-destination', tarballs], dir);
    const file = join(tarballs, `${name.slice(1).replace('/', '-')}-${manifest.version}.tgz`);
    if (!existsSync(file)) throw new Error(`${name}: pnpm pack did not write ${file}`);
    tarballOf.set(name, file);
  }

  for (const name of selected) {
    const dir = packages.get(name)?.dir ?? '';
    const short = name.split('/')[1] ?? name;
    const t0 = Date.now();
    const fail = (what: string) => failures.push(`${name}: ${what}`);
    try {
      const tarball = tarballOf.get(name) ?? '';
      const packed = JSON.parse(
        execFileSync('tar', ['-xzOf', tarball, 'package/package.json'], { encoding: 'utf8' }),
      ) as Manifest;
      const bad = Object.entries(packed.dependencies ?? {}).filter(([, v]) =>
        /^(workspace|catalog):/.test(v),
      );
      if (bad.length > 0)
        fail(`packed manifest keeps ${bad.map(([k, v]) => `${k}@${v}`).join(', ')}`);
      run(join(bin, 'publint'), ['run', tarball, '--strict'], root);
      run(join(bin, 'attw'), ['--profile', 'esm-only', '--format', 'table-flipped', tarball], root);

      const examplePath = join(root, 'examples', `${short}.ts`);
      if (!existsSync(examplePath)) {
        fail(`no example examples/${short}.ts`);
        continue;
      }
      const example = readFileSync(examplePath, 'utf8');
      const readme = readFileSync(join(dir, 'README.md'), 'utf8');
      if (!readme.includes('```ts\n' + example + '```')) {
        fail(`README.md does not show examples/${short}.ts verbatim (in a \`\`\`ts block)`);
      }
      const imports = bareImports(example);
      const installLine = `npm install ${[name, ...imports.filter((i) => i !== name)].join(' ')}`;
      if (!readme.includes(installLine)) fail(`README.md does not say \`${installLine}\``);

      const project = join(work, short);
      mkdirSync(project);
      writeFileSync(
        join(project, 'package.json'),
        JSON.stringify({ name: `try-${short}`, private: true, type: 'module' }, null, 2),
      );
      const specs = [...closure(name)].map((n) => tarballOf.get(n) ?? n);
      for (const i of imports) {
        if (packages.has(i)) continue;
        const range = versions.get(i);
        if (range === undefined) fail(`example imports ${i}, which is not in the pnpm catalog`);
        else specs.push(`${i}@${range}`);
      }
      run(
        'npm',
        ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ...specs],
        project,
      );
      copyFileSync(examplePath, join(project, 'example.ts'));
      run(process.execPath, ['example.ts'], project);
      console.log(`pack-check: ${name} ok (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    } catch (e) {
      fail(e instanceof Error ? e.message : String(e));
    }
  }
} finally {
  if (keep) console.log(`pack-check: kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}

console.log(`pack-check: ${((Date.now() - started) / 1000).toFixed(0)} s in all`);
if (failures.length > 0) {
  for (const f of failures) console.error(`pack-check: FAILED ${f}`);
  process.exit(1);
}
