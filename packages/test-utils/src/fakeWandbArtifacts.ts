import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** An artifact version as the fake server stores it. */
export interface FakeArtifact {
  id: string;
  entity: string;
  project: string;
  /** The artifact's name (its collection, e.g. `model-<runId>`). */
  collection: string;
  type: string;
  runName: string | undefined;
  /** The manifest digest sent with `createArtifact` (hex MD5). */
  digest: string;
  state: 'PENDING' | 'COMMITTED';
  /** `v<N>` index, set at commit. */
  versionIndex: number | undefined;
  /** Aliases asked for at creation (applied, moving them off other versions, at commit). */
  requestedAliases: string[];
  metadata: unknown;
  manifestId: string | undefined;
  /** The uploaded manifest, parsed. */
  manifest: { contents: Record<string, { digest: string; size: number }> } | undefined;
  /** `commitArtifact` calls that committed it (must be 1). */
  commits: number;
  /** Times `createArtifact` returned this version for a request (dedup by digest counts too). */
  creates: number;
  usedBy: string[];
}

/** One PUT to the storage origin that stored something. */
export interface FakeArtifactPut {
  kind: 'file' | 'manifest';
  /** `md5/name` for files, the artifact id for manifests. */
  key: string;
  name: string;
  bytes: number;
}

type GqlResult = { data: unknown } | { errors: { message: string }[] };

const OP =
  /\b(createArtifactFiles|createArtifactManifest|updateArtifactManifest|createArtifact|commitArtifact|useArtifact)\s*\(/;

function b64md5(body: Buffer): string {
  return createHash('md5').update(body).digest('base64');
}

/**
 * The artifact half of the fake W&B server: `createArtifact` (deduplicated by digest per
 * collection), `createArtifactManifest` / `updateArtifactManifest`, `createArtifactFiles`
 * (no upload URL for content already stored, as W&B does), `commitArtifact` (checks the manifest
 * and every file it lists were uploaded; moves the version's aliases), `useArtifact`, and the
 * presigned PUTs on the storage origin (no `Authorization` allowed, `Content-MD5` checked).
 */
export class FakeArtifactStore {
  readonly artifacts = new Map<string, FakeArtifact>();
  /** Stored file contents by base64 MD5. */
  readonly blobs = new Map<string, Buffer>();
  readonly puts: FakeArtifactPut[] = [];
  storageUrl = '';
  #seq = 0;

  /** True when `query` is an artifact operation this store answers. */
  handles(query: string): boolean {
    return OP.test(query);
  }

  /** Committed versions of a collection, oldest first. */
  versions(collection: string): FakeArtifact[] {
    return [...this.artifacts.values()]
      .filter((a) => a.collection === collection && a.state === 'COMMITTED')
      .sort((a, b) => (a.versionIndex ?? 0) - (b.versionIndex ?? 0));
  }

  /** Aliases of a version (`latest`, `best`, `v<N>`). */
  aliasesOf(a: FakeArtifact): string[] {
    const out = a.versionIndex === undefined ? [] : [`v${a.versionIndex}`];
    for (const [alias, id] of this.#aliases(a.collection)) if (id === a.id) out.push(alias);
    return out;
  }

  /** The version an alias points at. */
  alias(collection: string, alias: string): FakeArtifact | undefined {
    const id = this.#aliases(collection).get(alias);
    return id === undefined ? undefined : this.artifacts.get(id);
  }

  readonly #aliasMaps = new Map<string, Map<string, string>>();

  #aliases(collection: string): Map<string, string> {
    let m = this.#aliasMaps.get(collection);
    if (m === undefined) {
      m = new Map();
      this.#aliasMaps.set(collection, m);
    }
    return m;
  }

  #applyAliases(a: FakeArtifact): void {
    const m = this.#aliases(a.collection);
    for (const alias of a.requestedAliases) m.set(alias, a.id);
  }

  /** PUTs per stored key (`md5/name`); every value must be 1. */
  putCounts(): Map<string, number> {
    const out = new Map<string, number>();
    for (const p of this.puts) out.set(p.key, (out.get(p.key) ?? 0) + 1);
    return out;
  }

  graphql(query: string, v: Record<string, unknown>): GqlResult {
    const op = OP.exec(query)?.[1];
    const err = (message: string): GqlResult => ({ errors: [{ message }] });
    switch (op) {
      case 'createArtifact': {
        const collection = String(v['artifactCollectionName']);
        const entity = String(v['entityName']);
        const project = String(v['projectName']);
        const digest = String(v['digest']);
        const aliases = ((v['aliases'] as { alias: string }[] | null) ?? []).map((x) => x.alias);
        const siblings = [...this.artifacts.values()].filter(
          (a) => a.collection === collection && a.entity === entity && a.project === project,
        );
        const latest = siblings.filter((a) => a.state === 'COMMITTED').at(-1);
        let a = siblings.find((x) => x.digest === digest);
        if (a === undefined) {
          a = {
            id: `art-${++this.#seq}`,
            entity,
            project,
            collection,
            type: String(v['artifactTypeName']),
            runName: v['runName'] as string | undefined,
            digest,
            state: 'PENDING',
            versionIndex: undefined,
            requestedAliases: aliases,
            metadata: typeof v['metadata'] === 'string' ? JSON.parse(v['metadata']) : undefined,
            manifestId: undefined,
            manifest: undefined,
            commits: 0,
            creates: 0,
            usedBy: [],
          };
          this.artifacts.set(a.id, a);
        } else {
          for (const x of aliases) if (!a.requestedAliases.includes(x)) a.requestedAliases.push(x);
          if (a.state === 'COMMITTED') this.#applyAliases(a);
        }
        a.creates++;
        return {
          data: {
            createArtifact: {
              artifact: {
                id: a.id,
                state: a.state,
                digest: a.digest,
                artifactSequence: {
                  latestArtifact: latest === undefined ? null : { id: latest.id },
                },
              },
            },
          },
        };
      }
      case 'createArtifactManifest': {
        const a = this.artifacts.get(String(v['artifactID']));
        if (a === undefined) return err(`artifact ${String(v['artifactID'])} not found`);
        a.manifestId ??= `manifest-${a.id}`;
        return { data: { createArtifactManifest: { artifactManifest: this.#manifest(a, v) } } };
      }
      case 'updateArtifactManifest': {
        const id = String(v['artifactManifestID']);
        const a = [...this.artifacts.values()].find((x) => x.manifestId === id);
        if (a === undefined) return err(`artifact manifest ${id} not found`);
        return { data: { updateArtifactManifest: { artifactManifest: this.#manifest(a, v) } } };
      }
      case 'createArtifactFiles': {
        const input = v['input'] as {
          artifactFiles: { artifactID: string; name: string; md5: string }[];
        };
        const edges = [];
        for (const f of input.artifactFiles) {
          const a = this.artifacts.get(f.artifactID);
          if (a === undefined) return err(`artifact ${f.artifactID} not found`);
          const stored = this.blobs.has(f.md5);
          edges.push({
            node: {
              storagePath: `wandb_artifacts/${f.md5}`,
              uploadUrl: stored
                ? null
                : `${this.storageUrl}/artifact-files/${encodeURIComponent(f.md5)}/${encodeURIComponent(f.name)}?sig=fake`,
              uploadHeaders: ['X-Upload-Token: t1'],
              artifact: { id: a.id },
            },
          });
        }
        return { data: { createArtifactFiles: { files: { edges } } } };
      }
      case 'commitArtifact': {
        const a = this.artifacts.get(String(v['artifactID']));
        if (a === undefined) return err(`artifact ${String(v['artifactID'])} not found`);
        if (a.state === 'COMMITTED') {
          return { data: { commitArtifact: { artifact: { id: a.id, digest: a.digest } } } };
        }
        if (a.manifest === undefined) return err(`artifact ${a.id}: no manifest uploaded`);
        for (const [name, e] of Object.entries(a.manifest.contents)) {
          if (!this.blobs.has(e.digest)) return err(`artifact ${a.id}: ${name} not uploaded`);
        }
        a.state = 'COMMITTED';
        a.versionIndex = this.versions(a.collection).length;
        a.commits++;
        this.#applyAliases(a);
        return { data: { commitArtifact: { artifact: { id: a.id, digest: a.digest } } } };
      }
      case 'useArtifact': {
        const input = v['input'] as { artifactID: string; runName: string };
        const a = this.artifacts.get(input.artifactID);
        if (a === undefined) return err(`artifact ${input.artifactID} not found`);
        a.usedBy.push(input.runName);
        return { data: { useArtifact: { artifact: { id: a.id } } } };
      }
      case undefined:
      default:
        return err('unknown artifact operation');
    }
  }

  #manifest(a: FakeArtifact, v: Record<string, unknown>): unknown {
    return {
      id: a.manifestId,
      file: {
        id: `file-${a.id}`,
        ...(v['includeUpload'] === true
          ? {
              uploadUrl: `${this.storageUrl}/manifests/${a.id}?sig=fake`,
              uploadHeaders: ['X-Upload-Token: t1'],
            }
          : {}),
      },
    };
  }

  /** Handles a PUT on the storage origin under `/artifact-files/` or `/manifests/`. */
  storage(
    method: string,
    path: string,
    headers: IncomingMessage['headers'],
    body: Buffer,
  ): { status: number; body?: string } {
    if (method !== 'PUT' || headers['x-upload-token'] !== 't1') return { status: 403 };
    if (headers.authorization !== undefined) {
      return { status: 400, body: 'presigned URLs take no Authorization header' };
    }
    const md5 = b64md5(body);
    const sent = headers['content-md5'];
    if (typeof sent === 'string' && sent !== md5)
      return { status: 400, body: 'Content-MD5 mismatch' };
    const parts = (path.split('?')[0] ?? '').split('/').map((p) => decodeURIComponent(p));
    if (parts[1] === 'manifests') {
      const a = this.artifacts.get(parts[2] ?? '');
      if (a === undefined) return { status: 404 };
      a.manifest = JSON.parse(body.toString('utf8')) as FakeArtifact['manifest'];
      this.puts.push({
        kind: 'manifest',
        key: a.id,
        name: 'wandb_manifest.json',
        bytes: body.length,
      });
      return { status: 200 };
    }
    const [, , want, ...rest] = parts;
    if (want !== md5) return { status: 400, body: 'content does not match the signed MD5' };
    const name = rest.join('/');
    this.blobs.set(md5, body);
    this.puts.push({ kind: 'file', key: `${md5}/${name}`, name, bytes: body.length });
    return { status: 200 };
  }
}
