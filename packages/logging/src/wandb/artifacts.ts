import { createHash } from 'node:crypto';
import {
  constants,
  copyFileSync,
  createReadStream,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  rmSync,
  statSync,
} from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import {
  type ArtifactTarget,
  commitArtifact,
  createArtifact,
  createArtifactFiles,
  createArtifactManifest,
  updateArtifactManifest,
} from './artifactApi.js';
import { readJson, writeJsonSync } from './runFiles.js';
import type { WandbTransport } from './transport.js';

/** Which checkpoints become versions of the run's model artifact (`logging.wandb.logCheckpoints`). */
export type LogCheckpoints = 'none' | 'last' | 'best' | 'all';

/** A committed checkpoint handed to the sink. */
export interface CheckpointRecord {
  step: number;
  /** The checkpoint directory (its files become the version's files). */
  dir: string;
  /** Metrics recorded with the checkpoint. */
  metrics?: Record<string, number>;
  /** The checkpoint policy's ranking metric (`--keep-best metric:min|max`), when there is one. */
  best?: { metric: string; mode: 'min' | 'max' };
}

interface FileRec {
  name: string;
  size: number;
  /** Base64 MD5, once hashed. */
  md5?: string;
  /** Uploaded, or already stored on the server. */
  done?: boolean;
  birthArtifactId?: string;
}

interface VersionRec {
  step: number;
  /** Staging directory, relative to the W&B directory (hard links of the checkpoint's files). */
  staged: string;
  files: FileRec[];
  aliases: string[];
  metadata: Record<string, unknown>;
  state: 'queued' | 'committed' | 'dropped' | 'failed';
  /** Artifact digest (hex MD5 over `name:md5` lines), once every file is hashed. */
  digest?: string;
  id?: string;
  baseId?: string | null;
  manifestId?: string;
  manifestUploaded?: boolean;
  /** True when the server already had this digest (no upload). */
  deduplicated?: boolean;
  failures?: number;
}

interface Spool {
  version: 1;
  name: string;
  type: 'model';
  best?: { metric: string; mode: 'min' | 'max'; value: number; step: number };
  versions: VersionRec[];
}

/** `artifacts.json` in the W&B directory: the upload progress of every checkpoint version. */
export const ARTIFACT_SPOOL = 'artifacts.json';
const STAGING = join('artifacts', 'staging');
const MAX_FAILURES = 5;

function listFiles(dir: string, base = dir): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...listFiles(p, base));
    else if (e.isFile()) out.push(relative(base, p).split('\\').join('/'));
  }
  return out.sort();
}

function md5File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('md5');
    createReadStream(path)
      .on('data', (c) => h.update(c))
      .on('error', reject)
      .on('end', () => resolve(h.digest('base64')));
  });
}

/** W&B's artifact digest (`MANIFEST_MD5`): hex MD5 of the header and sorted `name:md5` lines. */
export function artifactDigest(files: readonly { name: string; md5: string }[]): string {
  const h = createHash('md5').update('wandb-artifact-manifest-v1\n');
  for (const f of [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    h.update(`${f.name}:${f.md5}\n`);
  }
  return h.digest('hex');
}

function isBetter(mode: 'min' | 'max', v: number, than: number): boolean {
  // Ties go to the newer checkpoint, as the checkpoint policy ranks them.
  return mode === 'min' ? v <= than : v >= than;
}

/**
 * Checkpoints as versions of one W&B model artifact per run (`model-<runId>`), through the SDK's
 * artifact protocol: `createArtifact` (deduplicated by digest), `createArtifactManifest`,
 * `createArtifactFiles` (presigned URLs; none for content the server has), PUTs without the API
 * key, `updateArtifactManifest` + the manifest PUT, `commitArtifact`. Every step is recorded in
 * `artifacts.json`, so after a crash the upload continues where it stopped and nothing is sent
 * twice. The checkpoint's files are hard-linked into a staging directory when it is logged, so
 * retention may delete the checkpoint meanwhile.
 */
export class ArtifactQueue {
  readonly #dir: string;
  readonly #mode: LogCheckpoints;
  readonly #notify: (level: 'info' | 'warn' | 'error', message: string) => void;
  #spool: Spool;
  #warnedNoMetric = false;

  constructor(o: {
    dir: string;
    runId: string;
    mode: LogCheckpoints;
    notify: (level: 'info' | 'warn' | 'error', message: string) => void;
  }) {
    this.#dir = o.dir;
    this.#mode = o.mode;
    this.#notify = o.notify;
    this.#spool = readJson<Spool>(o.dir, ARTIFACT_SPOOL) ?? {
      version: 1,
      name: `model-${o.runId}`,
      type: 'model',
      versions: [],
    };
  }

  /** The artifact's name (`model-<runId>`). */
  get name(): string {
    return this.#spool.name;
  }

  /** Versions still to upload. */
  get pending(): number {
    return this.#spool.versions.filter((v) => v.state === 'queued').length;
  }

  /** Versions committed on the server (uploaded or found there by digest). */
  get committed(): number {
    return this.#spool.versions.filter((v) => v.state === 'committed').length;
  }

  #save(): void {
    writeJsonSync(this.#dir, ARTIFACT_SPOOL, this.#spool);
  }

  /**
   * Records a committed checkpoint (synchronously: hard links plus one small file), so that it
   * survives a crash right after. A step already recorded is ignored.
   */
  add(c: CheckpointRecord): void {
    if (this.#mode === 'none') return;
    if (this.#spool.versions.some((v) => v.step === c.step && v.state !== 'dropped')) return;
    let isBest = false;
    const value = c.best === undefined ? undefined : c.metrics?.[c.best.metric];
    if (c.best !== undefined && typeof value === 'number' && !Number.isNaN(value)) {
      const prev = this.#spool.best;
      if (
        prev === undefined ||
        prev.metric !== c.best.metric ||
        isBetter(c.best.mode, value, prev.value)
      ) {
        this.#spool.best = { ...c.best, value, step: c.step };
        isBest = true;
      }
    }
    if (this.#mode === 'best' && c.best === undefined && !this.#warnedNoMetric) {
      this.#warnedNoMetric = true;
      this.#notify(
        'warn',
        'wandb: logCheckpoints is best but the checkpoints have no ranking metric (--keep-best metric:min|max); every checkpoint is logged',
      );
    }
    if (this.#mode === 'best' && c.best !== undefined && !isBest) {
      this.#save();
      return;
    }
    const staged = join(STAGING, `step-${String(c.step).padStart(8, '0')}`);
    const files: FileRec[] = [];
    try {
      rmSync(join(this.#dir, staged), { recursive: true, force: true });
      for (const name of listFiles(c.dir)) {
        const from = join(c.dir, name);
        const to = join(this.#dir, staged, name);
        mkdirSync(join(to, '..'), { recursive: true });
        try {
          linkSync(from, to);
        } catch {
          copyFileSync(from, to, constants.COPYFILE_FICLONE); // another file system
        }
        files.push({ name, size: statSync(to).size });
      }
    } catch (err) {
      this.#notify(
        'error',
        `wandb: checkpoint ${c.dir} not logged as an artifact: cannot stage its files (${(err as Error).message})`,
      );
      return;
    }
    if (this.#mode === 'last') {
      // Only the newest checkpoint (and the best one) are uploaded, at the end of the run.
      const bestStep = this.#spool.best?.step;
      for (const v of this.#spool.versions) {
        if (v.state === 'queued' && v.id === undefined && v.step !== bestStep) this.#drop(v);
        else if (v.state === 'queued' && v.id === undefined) v.aliases = ['best'];
      }
    }
    const aliases = ['latest'];
    if (isBest) {
      aliases.push('best');
      for (const v of this.#spool.versions) {
        if (v.state === 'queued' && v.id === undefined)
          v.aliases = v.aliases.filter((a) => a !== 'best');
      }
    }
    this.#spool.versions.push({
      step: c.step,
      staged,
      files,
      aliases,
      metadata: { step: c.step, ...(c.metrics === undefined ? {} : { metrics: c.metrics }) },
      state: 'queued',
    });
    this.#save();
  }

  #drop(v: VersionRec): void {
    v.state = 'dropped';
    rmSync(join(this.#dir, v.staged), { recursive: true, force: true });
  }

  /**
   * Uploads the oldest queued version, if any (with `last`, only when `final`). Returns false
   * when there was nothing to do. Failures are retried on later calls; after a few the version
   * is given up with an error notice. Throws only when the transport was aborted.
   */
  async step(t: WandbTransport, to: ArtifactTarget, final: boolean): Promise<boolean> {
    if (this.#mode === 'last' && !final) return false;
    const v = this.#spool.versions.find((x) => x.state === 'queued');
    if (v === undefined) return false;
    try {
      await this.#upload(v, t, to);
    } catch (err) {
      if (t.aborted) throw err;
      v.failures = (v.failures ?? 0) + 1;
      const msg = (err as Error).message;
      if (v.failures >= MAX_FAILURES) {
        v.state = 'failed';
        this.#notify(
          'error',
          `wandb: checkpoint step ${v.step} not uploaded as ${this.name} after ${v.failures} tries (${msg}); its files stay in ${join(this.#dir, v.staged)}`,
        );
      } else {
        this.#notify(
          'warn',
          `wandb: checkpoint step ${v.step} not uploaded yet (${msg}); trying again`,
        );
      }
      this.#save();
      return false;
    }
    return true;
  }

  /** Uploads every queued version (end of run, `runner wandb sync`); false if some failed. */
  async drain(t: WandbTransport, to: ArtifactTarget): Promise<boolean> {
    // Each failed try counts against its version, which is given up after a few: this ends.
    while (this.pending > 0) await this.step(t, to, true);
    return this.#spool.versions.every((v) => v.state !== 'failed');
  }

  async #upload(v: VersionRec, t: WandbTransport, to: ArtifactTarget): Promise<void> {
    const staged = join(this.#dir, v.staged);
    if (v.digest === undefined) {
      for (const f of v.files) f.md5 ??= await md5File(join(staged, f.name));
      v.digest = artifactDigest(v.files as { name: string; md5: string }[]);
      this.#save();
    }
    if (v.id === undefined) {
      const clientId = createHash('sha256').update(`${to.runId}\0${v.digest}`).digest('hex');
      const created = await createArtifact(t, to, {
        name: this.name,
        type: this.#spool.type,
        digest: v.digest,
        aliases: v.aliases,
        metadata: v.metadata,
        clientId: clientId.slice(0, 32),
        sequenceClientId: createHash('sha256').update(this.name).digest('hex').slice(0, 32),
      });
      v.id = created.id;
      v.baseId = created.latestId;
      if (created.state === 'COMMITTED') {
        v.deduplicated = true;
        this.#finish(v);
        return;
      }
      this.#save();
    }
    const id = v.id;
    v.manifestId ??= await createArtifactManifest(t, to, id, v.baseId ?? null);
    this.#save();
    const todo = v.files.filter((f) => f.done !== true);
    for (let i = 0; i < todo.length; i += 100) {
      const batch = todo.slice(i, i + 100);
      const slots = await createArtifactFiles(
        t,
        id,
        v.manifestId,
        batch.map((f) => ({ name: f.name, md5: f.md5 as string })),
      );
      for (const [k, f] of batch.entries()) {
        const slot = slots[k];
        if (slot === undefined) throw new Error(`the server gave no upload slot for ${f.name}`);
        if (slot.uploadUrl !== null) {
          await t.uploadFile(
            slot.uploadUrl,
            slot.uploadHeaders,
            { path: join(staged, f.name), size: f.size, md5: f.md5 },
            `${this.name} ${f.name}`,
          );
        }
        f.done = true;
        f.birthArtifactId = slot.birthArtifactId;
        this.#save();
      }
    }
    if (v.manifestUploaded !== true) {
      const contents: Record<string, unknown> = {};
      for (const f of v.files) {
        contents[f.name] = {
          digest: f.md5,
          birthArtifactID: f.birthArtifactId ?? id,
          size: f.size,
        };
      }
      const bytes = Buffer.from(
        JSON.stringify({
          version: 1,
          storagePolicy: 'wandb-storage-policy-v1',
          storagePolicyConfig: { storageLayout: 'V2' },
          contents,
        }),
      );
      const md5 = createHash('md5').update(bytes).digest('base64');
      const slot = await updateArtifactManifest(t, v.manifestId, md5, v.baseId ?? null);
      if (slot.uploadUrl === null)
        throw new Error('the server gave no upload URL for the manifest');
      const file = join(staged, '..', `${v.staged.split(/[\\/]/).at(-1) ?? 'x'}.manifest.json`);
      await writeFile(file, bytes);
      await t.uploadFile(
        slot.uploadUrl,
        slot.uploadHeaders,
        { path: file, size: bytes.length, md5 },
        `${this.name} manifest`,
      );
      rmSync(file, { force: true });
      v.manifestUploaded = true;
      this.#save();
    }
    await commitArtifact(t, id);
    this.#finish(v);
  }

  #finish(v: VersionRec): void {
    v.state = 'committed';
    rmSync(join(this.#dir, v.staged), { recursive: true, force: true });
    this.#save();
    this.#notify(
      'info',
      `wandb: checkpoint step ${v.step} is ${this.name} (${v.aliases.join(', ')})${v.deduplicated === true ? ', same content as an earlier version' : ''}`,
    );
  }

  /** True when the staging files of queued versions still exist (for messages). */
  staged(): boolean {
    return this.#spool.versions.some(
      (v) => v.state === 'queued' && existsSync(join(this.#dir, v.staged)),
    );
  }
}
