import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  classifyPath,
  inspectCheckpoint,
  listCheckpointDirs,
  listCheckpoints,
  loadFrom,
  nodeFs,
  verifyCheckpoint,
} from '@x/checkpoint';
import { XError, isTensorData, shapeSize, walkState } from '@x/core';
import type { Command, CommandContext } from '../command.js';

function target(ctx: CommandContext): string {
  return resolve(ctx.cwd, ctx.positionals[0] as string);
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

function clip(text: string, n: number): string {
  return text.length <= n ? text : `${text.slice(0, n - 1)}…`;
}

function metricsText(m: Record<string, number> | undefined): string {
  if (m === undefined) return '';
  return Object.entries(m)
    .map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toPrecision(5)}`)
    .join(' ');
}

function scalarLeaves(doc: { tree?: unknown }): string[] {
  const out: string[] = [];
  const walk = (v: unknown, path: string): void => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o);
      if (keys.length === 1 && keys[0] === '$tensor') return;
      if (keys.length === 1 && keys[0] === '$number') {
        out.push(`${path} = ${String(o['$number'])}`);
        return;
      }
      const body =
        keys.length === 1 && keys[0] === '$object' ? (o['$object'] as Record<string, unknown>) : o;
      for (const k of Object.keys(body)) walk(body[k], path === '' ? k : `${path}/${k}`);
      return;
    }
    if (Array.isArray(v)) {
      v.forEach((x, i) => walk(x, `${path}/${i}`));
      return;
    }
    const text = JSON.stringify(v);
    out.push(`${path} = ${text.length > 80 ? `${text.slice(0, 77)}...` : text}`);
  };
  walk(doc.tree, '');
  return out;
}

export const ckptListCommand: Command = {
  path: ['ckpt', 'list'],
  summary: 'list the checkpoints of a run (add --verify to check every one)',
  usage: '<run-dir> [--verify]',
  options: {
    verify: {
      type: 'boolean',
      description: 'also verify every checkpoint (file sizes, SHA-256, state digest)',
    },
  },
  positionals: { min: 1, max: 1 },
  async run(ctx) {
    const listed = await listCheckpoints(target(ctx));
    if (listed.length === 0) {
      ctx.out.line('no checkpoints');
      return 0;
    }
    ctx.out.line(
      [
        'step'.padStart(10),
        'created (UTC)'.padEnd(24),
        'size'.padStart(10),
        'status'.padEnd(9),
        'metrics',
      ].join('  '),
    );
    let bad = 0;
    for (const c of listed) {
      let status = c.damaged === undefined ? 'listed' : 'DAMAGED';
      if (ctx.values['verify'] === true && c.damaged === undefined) {
        try {
          await verifyCheckpoint(nodeFs, c.dir);
          status = 'ok';
        } catch (err) {
          status = 'DAMAGED';
          ctx.out.warn(`${c.dir}: ${(err as Error).message}`);
        }
      } else if (c.damaged !== undefined) ctx.out.warn(`${c.dir}: ${c.damaged}`);
      if (status === 'DAMAGED') bad++;
      const size = Object.values(c.manifest?.files ?? {}).reduce((a, f) => a + f.size, 0);
      ctx.out.line(
        [
          String(c.step).padStart(10),
          (c.manifest?.createdAt ?? '?').padEnd(24),
          bytes(size).padStart(10),
          status.padEnd(9),
          clip(metricsText(c.metrics), 100),
        ].join('  '),
      );
    }
    if (bad > 0)
      throw new XError('INTEGRITY', `${bad} of ${listed.length} checkpoints are damaged`);
    return 0;
  },
};

export const ckptInspectCommand: Command = {
  path: ['ckpt', 'inspect'],
  summary: 'show a checkpoint: manifest, components, tensors and other leaves (no checksum check)',
  usage: '<ckpt|run-dir>',
  options: {},
  positionals: { min: 1, max: 1 },
  async run(ctx) {
    const t = await classifyPath(target(ctx));
    const dir = t.kind === 'checkpoint' ? t.dir : (await listCheckpointDirs(t.dir))[0]?.dir;
    if (dir === undefined) throw new XError('NOT_FOUND', `no checkpoint in ${t.dir}`);
    const { manifest: m, header } = await inspectCheckpoint(dir);
    const o = ctx.out;
    o.line(`checkpoint  ${dir}`);
    o.line(`step        ${m.step}`);
    o.line(`created     ${m.createdAt}`);
    o.line(`format      ${m.format} v${m.formatVersion}`);
    o.line(`components  ${m.components.join(', ')}`);
    o.line(`digest      ${m.stateDigest}`);
    o.line(
      `metrics     ${metricsText(Object.fromEntries(Object.entries(m.metrics).map(([k, v]) => [k, Number(v)])))}`,
    );
    o.line(
      `versions    ${Object.entries(m.versions)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`,
    );
    if (Object.keys(m.metadata).length > 0) o.line(`metadata    ${JSON.stringify(m.metadata)}`);
    o.line('files');
    for (const [name, f] of Object.entries(m.files))
      o.line(`  ${name.padEnd(18)} ${bytes(f.size).padStart(10)}  sha256 ${f.sha256}`);
    o.line(`tensors (${header.tensors.length})`);
    const sorted = [...header.tensors].sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of sorted) {
      o.line(
        `  ${e.name.padEnd(40)} ${e.dtype.padEnd(5)} [${e.shape.join(', ')}]  ${bytes(e.end - e.begin)}`,
      );
    }
    const leaves = scalarLeaves(
      JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as { tree?: unknown },
    );
    o.line(`other leaves (${leaves.length})`);
    for (const l of leaves.slice(0, 200)) o.line(`  ${l}`);
    if (leaves.length > 200) o.line(`  … ${leaves.length - 200} more`);
    return 0;
  },
};

export const ckptVerifyCommand: Command = {
  path: ['ckpt', 'verify'],
  summary:
    'check a checkpoint (or every checkpoint of a run) as --resume does: checksums, structure, state digest, step, components; exit 1 on any mismatch',
  usage: '<ckpt|run-dir>',
  options: {},
  positionals: { min: 1, max: 1 },
  async run(ctx) {
    const t = await classifyPath(target(ctx));
    const dirs =
      t.kind === 'checkpoint'
        ? [t.dir]
        : (await listCheckpointDirs(t.dir)).reverse().map((d) => d.dir);
    if (dirs.length === 0) throw new XError('NOT_FOUND', `no checkpoint in ${t.dir}`);
    const problems: string[] = [];
    for (const dir of dirs) {
      try {
        const { manifest } = await verifyCheckpoint(nodeFs, dir);
        ctx.out.line(`ok       ${dir}  step ${manifest.step}  digest ${manifest.stateDigest}`);
      } catch (err) {
        ctx.out.line(`DAMAGED  ${dir}`);
        problems.push((err as Error).message);
      }
    }
    if (problems.length > 0) throw new XError('INTEGRITY', problems.join('\n'));
    return 0;
  },
};

export const ckptDigestCommand: Command = {
  path: ['ckpt', 'digest'],
  summary: 'print the state digest (hex) of a verified checkpoint as the last stdout line',
  usage: '<ckpt|run-dir>',
  options: {},
  positionals: { min: 1, max: 1 },
  async run(ctx) {
    const loaded = await loadFrom(target(ctx), {
      onWarning: (w) => ctx.out.warn(w),
      verifyDigest: true,
    });
    let elements = 0;
    for (const leaf of walkState(loaded.state)) {
      if (isTensorData(leaf.value)) elements += shapeSize(leaf.value.shape);
    }
    ctx.out.info(`${loaded.dir}: step ${loaded.step}, ${elements} tensor elements`);
    ctx.out.line(loaded.manifest.stateDigest);
    return 0;
  },
};

/** The `runner ckpt …` commands. */
export const ckptCommands: Command[] = [
  ckptListCommand,
  ckptInspectCommand,
  ckptVerifyCommand,
  ckptDigestCommand,
];
