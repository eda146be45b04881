// Malformed inputs for the fault-injection suite: configs, checkpoints, CSVs, .npz and .h5
// files, each a real file on disk, with the command that must refuse it.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';

/** One bad input: the runner arguments that read it and what the error must say. */
export interface BadInput {
  kind: 'config' | 'checkpoint' | 'csv' | 'npz' | 'h5';
  name: string;
  /** The file (or directory) the message must name. */
  path: string;
  /** Runner arguments; `undefined` for library-only readers (.npz). */
  args?: string[];
  /** Exit codes accepted (2: bad input; 1: a checkpoint failing its checks, as `verify`). */
  exits: number[];
  /** Pattern the message must match besides naming the path. */
  says?: RegExp;
}

const tinyFlags = ['--backend', 'cpu', '--quiet'];

/** A file to write (`null`: leave it missing) and what the refusal must say. */
type FileCase = [name: string, body: string | Uint8Array | null, says?: RegExp];

/**
 * Writes each case's file into `dir` and pairs it with the runner arguments that read it
 * (`args` undefined: a library-only reader), all expected to exit 2.
 */
function fileCases(
  kind: BadInput['kind'],
  dir: string,
  files: readonly FileCase[],
  args?: (path: string, i: number) => string[],
): BadInput[] {
  return files.map(([name, body, says], i) => {
    const path = join(dir, name);
    if (body !== null) writeFileSync(path, body);
    return pathCase(kind, name, path, args?.(path, i), says);
  });
}

/** The non-regular paths every reader refuses: a device, a directory and, given its name, a FIFO. */
function specialCases(
  kind: BadInput['kind'],
  dir: string,
  args?: (path: string, i: number) => string[],
  fifoName?: string,
): BadInput[] {
  const paths: [string, string, RegExp][] = [
    ['/dev/zero', '/dev/zero', /a device[^,]*, not a regular file/],
    ['directory', dir, /a directory, not a regular file/],
  ];
  const fifo = join(dir, fifoName ?? '');
  if (fifoName !== undefined && spawnSync('mkfifo', [fifo]).status === 0)
    paths.push(['fifo', fifo, /a FIFO, not a regular file/]);
  return paths.map(([name, path, says], i) => pathCase(kind, name, path, args?.(path, i), says));
}

function pathCase(
  kind: BadInput['kind'],
  name: string,
  path: string,
  args: string[] | undefined,
  says: RegExp | undefined,
): BadInput {
  return {
    kind,
    name,
    path,
    ...(args === undefined ? {} : { args }),
    exits: [2],
    ...(says === undefined ? {} : { says }),
  };
}

/** Malformed configs for `ired train --config <file>`. */
export function configCorpus(dir: string, out: (i: number) => string): BadInput[] {
  const d = join(dir, 'configs');
  mkdirSync(d, { recursive: true });
  const files: FileCase[] = [
    ['syntax.yaml', 'model: {channels: 4\n', /:\d+:\d+/],
    ['unknown-key.yaml', 'modle:\n  channels: 4\n', /modle/],
    ['wrong-type.yaml', 'train:\n  batchSize: many\n', /train\.batchSize/],
    ['negative.yaml', 'train:\n  batchSize: -3\n', /train\.batchSize/],
    ['duplicate.yaml', 'seed: 1\nseed: 2\n', /:2:1: Map keys must be unique/],
    ['bomb.yaml', aliasBomb(), /alias/],
    ['deep.yaml', `a: ${'['.repeat(3000)}${']'.repeat(3000)}\n`, /nested/],
    ['binary.yaml', Buffer.from([0xff, 0xfe, 0xfd, 0x00, 0x41, 0x0a]), /UTF-8/],
    ['huge.yaml', `x: "${'y'.repeat(2 << 20)}"\n`, /allowed/],
    ['list.yaml', '- 1\n- 2\n', /expected object|<root>/],
    ['missing.yaml', null, /no such file/],
  ];
  const args = (path: string, i: number) => [
    ...['ired', 'train', '--config', path, '--out', out(i), '--steps', '1'],
    ...tinyFlags,
  ];
  return [
    ...fileCases('config', d, files, args),
    ...specialCases('config', d, (path, i) => args(path, 100 + i), 'fifo.yaml'),
  ];
}

function aliasBomb(): string {
  const lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
  for (let i = 1; i < 9; i++) {
    const p = String.fromCharCode(96 + i);
    const q = String.fromCharCode(97 + i);
    lines.push(`${q}: &${q} [${Array(10).fill(`*${p}`).join(',')}]`);
  }
  return `${lines.join('\n')}\n`;
}

/** Damaged copies of a valid checkpoint directory, for `ckpt verify` and `ired sample`. */
export function checkpointCorpus(dir: string, good: string): BadInput[] {
  const d = join(dir, 'ckpts');
  mkdirSync(d, { recursive: true });
  const out: BadInput[] = [];
  const damage = (name: string, step: number, fn: (ck: string) => void, says?: RegExp) => {
    const ck = join(d, name, `step-${String(step).padStart(8, '0')}`);
    cpSync(good, ck, { recursive: true });
    fn(ck);
    for (const args of [
      ['ckpt', 'verify', ck],
      [
        'ired',
        'sample',
        '--checkpoint',
        ck,
        '--generate',
        '1',
        '--out',
        join(ck, '..', 'p.csv'),
        ...tinyFlags,
      ],
    ]) {
      out.push({
        kind: 'checkpoint',
        name: `${name} (${args[0]} ${args[1]})`,
        path: ck,
        args,
        exits: [1, 2],
        ...(says === undefined ? {} : { says }),
      });
    }
  };
  const manifestStep = Number(
    (JSON.parse(readFileSync(join(good, 'manifest.json'), 'utf8')) as { step: number }).step,
  );
  const edit = (file: string, fn: (b: Buffer) => Buffer) =>
    writeFileSync(file, fn(readFileSync(file)));
  damage('truncated-tensors', manifestStep, (ck) =>
    edit(join(ck, 'state.safetensors'), (b) => b.subarray(0, b.length >> 1)),
  );
  damage('huge-header', manifestStep, (ck) =>
    edit(join(ck, 'state.safetensors'), (b) => {
      const c = Buffer.from(b);
      c.writeBigUInt64LE(1n << 60n, 0);
      return c;
    }),
  );
  damage('flipped-byte', manifestStep, (ck) =>
    edit(join(ck, 'state.safetensors'), (b) => {
      const c = Buffer.from(b);
      c[c.length - 1] = (c[c.length - 1] as number) ^ 1;
      return c;
    }),
  );
  damage('manifest-not-json', manifestStep, (ck) =>
    writeFileSync(join(ck, 'manifest.json'), '{"format": '),
  );
  damage('manifest-deep', manifestStep, (ck) =>
    writeFileSync(join(ck, 'manifest.json'), `${'['.repeat(200_000)}${']'.repeat(200_000)}`),
  );
  damage('state-deep', manifestStep, (ck) =>
    writeFileSync(
      join(ck, 'state.json'),
      `{"version":1,"tree":${'['.repeat(200_000)}${']'.repeat(200_000)}}`,
    ),
  );
  damage('no-manifest', manifestStep, (ck) => writeFileSync(join(ck, 'manifest.json'), ''));
  damage('renamed-step', manifestStep + 7, () => undefined, /directory name says/);
  return out;
}

/** Malformed puzzle CSVs for `ired eval --puzzles <file>`. */
export function csvCorpus(dir: string, checkpoint: string): BadInput[] {
  const d = join(dir, 'csv');
  mkdirSync(d, { recursive: true });
  const quiz = '0'.repeat(40) + '1'.repeat(1) + '0'.repeat(40);
  const files: FileCase[] = [
    ['fields.csv', `${quiz}\n`, /:1:/],
    ['short.csv', `${quiz.slice(1)},${quiz}\n`, /:1:.*80 characters/],
    ['letters.csv', `${quiz.replace('1', 'x')},${quiz}\n`, /:1:/],
    ['empty-line.csv', `\n\n${quiz},${quiz}\n`, /:1:/],
    ['binary.csv', Buffer.from([0, 1, 2, 255, 10]), /:1:/],
    ['missing.csv', null, /no such file/],
  ];
  const args = (path: string) => [
    ...['ired', 'eval', '--checkpoint', checkpoint, '--puzzles', path],
    ...tinyFlags,
  ];
  return [...fileCases('csv', d, files, args), ...specialCases('csv', d, args)];
}

/** Malformed `.npz` files for the trajectory reader (library: `readNpz`). */
export function npzCorpus(dir: string): BadInput[] {
  const d = join(dir, 'npz');
  mkdirSync(d, { recursive: true });
  const f32 = (shape: number[], n: number) => npyF32(shape, new Float32Array(n));
  const good = zip({ 'states.npy': f32([2, 3], 6) });
  const shapeLie = Buffer.from(f32([1000, 1000, 1000], 6));
  // 64 KiB of zeros deflated (~100 bytes) declaring 1 GiB: past deflate's best ratio.
  const bomb = zip({ 'states.npy': new Uint8Array(64 << 10) }, true, 1 << 30);
  // A stored entry that declares 4 GiB uncompressed.
  const lie = zip({ 'states.npy': f32([4], 4) }, false, 0xfffffff0);
  const files: FileCase[] = [
    ['text.npz', Buffer.from('not a zip at all'), /not a readable \.npz/],
    ['truncated.npz', good.subarray(0, good.length >> 1), /not a readable \.npz/],
    ['shape-lie.npz', zip({ 'states.npy': shapeLie }), /declares shape \(1000, 1000, 1000\)/],
    [
      'bad-header.npz',
      zip({ 'states.npy': Buffer.from('\x93NUMPY\x01\x00\xff\xff{"descr": ', 'latin1') }),
      /header declares/,
    ],
    ['bomb.npz', bomb, /zip bomb|refusing to inflate/],
    ['declared-4gib.npz', lie, /refusing to inflate|declares/],
    ['empty.npz', new Uint8Array(0), /not a readable \.npz|empty|zip/],
    ['missing.npz', null, /no such file/],
  ];
  return [...fileCases('npz', d, files), ...specialCases('npz', d).slice(0, 1)];
}

/** Malformed HDF5 datasets for `operators replay <file> --verify`. */
export function h5Corpus(dir: string, good: string): BadInput[] {
  const d = join(dir, 'h5');
  mkdirSync(d, { recursive: true });
  const bytes = readFileSync(good);
  const files: FileCase[] = [
    ['text.h5', Buffer.from('hello\n'), /not an HDF5 file/],
    ['empty.h5', new Uint8Array(0), /not an HDF5 file/],
    ['truncated.h5', bytes.subarray(0, bytes.length >> 1), /not a readable HDF5 file|truncated/],
    ['header-only.h5', bytes.subarray(0, 600), /not a readable HDF5 file|truncated/],
    ['missing.h5', null, /no such file/],
  ];
  const args = (path: string) => ['operators', 'replay', path, '--verify', ...tinyFlags];
  return [...fileCases('h5', d, files, args), ...specialCases('h5', d, args)];
}

/** A minimal zip (stored or deflated entries); `declare` overrides the uncompressed size. */
function zip(files: Record<string, Uint8Array>, deflate = false, declare?: number): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of Object.entries(files)) {
    const body = deflate ? deflateRawSync(data, { level: 9 }) : Buffer.from(data);
    const nameBytes = Buffer.from(name);
    const crc = crc32(data);
    const size = declare ?? data.length;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(deflate ? 8 : 0, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(deflate ? 8 : 0, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, body);
    centrals.push(central, nameBytes);
    offset += 30 + nameBytes.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(files).length, 8);
  end.writeUInt16LE(Object.keys(files).length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

/** A version-1 `.npy` of little-endian float32 (numpy's format, written here by hand). */
function npyF32(shape: number[], data: Float32Array): Buffer {
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims}), }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const head = Buffer.alloc(10);
  Buffer.from('\x93NUMPY', 'latin1').copy(head, 0);
  head[6] = 1;
  head.writeUInt16LE(header.length, 8);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(data.buffer)]);
}
