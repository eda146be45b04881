import type { WandbTransport } from './transport.js';

// The artifact mutations as the SDK sends them (wandb core/api/graphql/mutation_*artifact*.graphql;
// legacy wandb/sdk/internal/internal_api.py). Digests: files by base64 MD5, the artifact by the
// hex MD5 of its manifest entries (`MANIFEST_MD5`), the manifest file by base64 MD5.

const CREATE_ARTIFACT = `mutation CreateArtifact($entityName: String!, $projectName: String!, $artifactTypeName: String!, $artifactCollectionName: String!, $runName: String, $digest: String!, $description: String, $aliases: [ArtifactAliasInput!], $metadata: JSONString, $clientID: ID!, $sequenceClientID: ID!) {
  createArtifact(input: {entityName: $entityName, projectName: $projectName, artifactTypeName: $artifactTypeName, artifactCollectionName: $artifactCollectionName, runName: $runName, digest: $digest, digestAlgorithm: MANIFEST_MD5, description: $description, aliases: $aliases, metadata: $metadata, enableDigestDeduplication: true, clientID: $clientID, sequenceClientID: $sequenceClientID}) {
    artifact { id state digest artifactSequence { latestArtifact { id } } }
  }
}`;

const CREATE_MANIFEST = `mutation CreateArtifactManifest($artifactID: ID!, $baseArtifactID: ID, $name: String!, $digest: String!, $entityName: String!, $projectName: String!, $runName: String!, $manifestType: ArtifactManifestType!, $includeUpload: Boolean!) {
  createArtifactManifest(input: {artifactID: $artifactID, baseArtifactID: $baseArtifactID, name: $name, digest: $digest, entityName: $entityName, projectName: $projectName, runName: $runName, type: $manifestType}) {
    artifactManifest { id file { id uploadUrl @include(if: $includeUpload) uploadHeaders @include(if: $includeUpload) } }
  }
}`;

const UPDATE_MANIFEST = `mutation UpdateArtifactManifest($artifactManifestID: ID!, $digest: String, $baseArtifactID: ID, $includeUpload: Boolean!) {
  updateArtifactManifest(input: {artifactManifestID: $artifactManifestID, digest: $digest, baseArtifactID: $baseArtifactID}) {
    artifactManifest { id file { id uploadUrl @include(if: $includeUpload) uploadHeaders @include(if: $includeUpload) } }
  }
}`;

const CREATE_FILES = `mutation CreateArtifactFiles($input: CreateArtifactFilesInput!) {
  createArtifactFiles(input: $input) {
    files { edges { node { storagePath uploadUrl uploadHeaders artifact { id } } } }
  }
}`;

const COMMIT_ARTIFACT = `mutation CommitArtifact($artifactID: ID!) {
  commitArtifact(input: {artifactID: $artifactID}) { artifact { id digest } }
}`;

const RUN_RESUME_STATUS = `query RunResumeStatus($project: String, $entity: String, $name: String!) {
  model(name: $project, entityName: $entity) {
    id name entity { id name }
    bucket(name: $name, missingOk: true) { id name displayName historyLineCount eventsLineCount logLineCount }
  }
}`;

/** Where an artifact is logged. */
export interface ArtifactTarget {
  entity: string;
  project: string;
  runId: string;
}

/** The server's answer to `createArtifact`. */
export interface CreatedArtifact {
  id: string;
  /** `PENDING` (upload it) or `COMMITTED` (same digest already there: nothing to upload). */
  state: string;
  /** The collection's latest version before this one (base of the manifest). */
  latestId: string | null;
}

/** Creates (or, same digest, finds) an artifact version, asking for `aliases`. */
export async function createArtifact(
  t: WandbTransport,
  to: ArtifactTarget,
  a: {
    name: string;
    type: string;
    digest: string;
    aliases: readonly string[];
    metadata: Record<string, unknown>;
    clientId: string;
    sequenceClientId: string;
  },
): Promise<CreatedArtifact> {
  const data = await t.graphql<{
    createArtifact: {
      artifact: {
        id: string;
        state: string;
        artifactSequence?: { latestArtifact?: { id: string } | null } | null;
      };
    };
  }>('createArtifact', CREATE_ARTIFACT, {
    entityName: to.entity,
    projectName: to.project,
    artifactTypeName: a.type,
    artifactCollectionName: a.name,
    runName: to.runId,
    digest: a.digest,
    aliases: a.aliases.map((alias) => ({ artifactCollectionName: a.name, alias })),
    metadata: JSON.stringify(a.metadata),
    clientID: a.clientId,
    sequenceClientID: a.sequenceClientId,
  });
  const art = data.createArtifact.artifact;
  return {
    id: art.id,
    state: art.state,
    latestId: art.artifactSequence?.latestArtifact?.id ?? null,
  };
}

/** An upload slot: a presigned URL and the headers to send with it. */
export interface UploadSlot {
  uploadUrl: string | null;
  uploadHeaders: string[];
}

interface ManifestData {
  artifactManifest: {
    id: string;
    file: { uploadUrl?: string | null; uploadHeaders?: string[] | null };
  };
}

/** Creates the (still empty) manifest record of an artifact; returns its id. */
export async function createArtifactManifest(
  t: WandbTransport,
  to: ArtifactTarget,
  artifactId: string,
  baseArtifactId: string | null,
): Promise<string> {
  const data = await t.graphql<{ createArtifactManifest: ManifestData }>(
    'createArtifactManifest',
    CREATE_MANIFEST,
    {
      artifactID: artifactId,
      baseArtifactID: baseArtifactId,
      name: 'wandb_manifest.json',
      digest: '',
      entityName: to.entity,
      projectName: to.project,
      runName: to.runId,
      manifestType: 'FULL',
      includeUpload: false,
    },
  );
  return data.createArtifactManifest.artifactManifest.id;
}

/** Sets the manifest's digest; returns where to PUT the manifest file. */
export async function updateArtifactManifest(
  t: WandbTransport,
  manifestId: string,
  digest: string,
  baseArtifactId: string | null,
): Promise<UploadSlot> {
  const data = await t.graphql<{ updateArtifactManifest: ManifestData }>(
    'updateArtifactManifest',
    UPDATE_MANIFEST,
    { artifactManifestID: manifestId, digest, baseArtifactID: baseArtifactId, includeUpload: true },
  );
  const f = data.updateArtifactManifest.artifactManifest.file;
  return { uploadUrl: f.uploadUrl ?? null, uploadHeaders: f.uploadHeaders ?? [] };
}

/**
 * Upload slots for artifact files, in order. A `null` URL means the server already stores that
 * content (same MD5): nothing to upload.
 */
export async function createArtifactFiles(
  t: WandbTransport,
  artifactId: string,
  manifestId: string,
  files: readonly { name: string; md5: string }[],
): Promise<(UploadSlot & { birthArtifactId: string })[]> {
  const data = await t.graphql<{
    createArtifactFiles: {
      files: {
        edges: {
          node: {
            uploadUrl?: string | null;
            uploadHeaders?: string[] | null;
            artifact: { id: string };
          };
        }[];
      };
    };
  }>('createArtifactFiles', CREATE_FILES, {
    input: {
      artifactFiles: files.map((f) => ({
        artifactID: artifactId,
        name: f.name,
        md5: f.md5,
        artifactManifestID: manifestId,
      })),
      storageLayout: 'V2',
    },
  });
  return data.createArtifactFiles.files.edges.map((e) => ({
    uploadUrl: e.node.uploadUrl ?? null,
    uploadHeaders: e.node.uploadHeaders ?? [],
    birthArtifactId: e.node.artifact.id,
  }));
}

/** Commits an artifact version (idempotent on the server). */
export async function commitArtifact(t: WandbTransport, artifactId: string): Promise<void> {
  await t.graphql('commitArtifact', COMMIT_ARTIFACT, { artifactID: artifactId });
}

/** What the server knows of a run (`RunResumeStatus`), or `undefined` when it does not exist. */
export interface RunStatus {
  historyLineCount: number;
  eventsLineCount: number;
  logLineCount: number;
}

/** Asks whether a run exists, as the SDK does before honouring `resume`. */
export async function runResumeStatus(
  t: WandbTransport,
  where: { entity: string | null; project: string; runId: string },
): Promise<RunStatus | undefined> {
  const data = await t.graphql<{
    model: {
      bucket: {
        historyLineCount?: number | null;
        eventsLineCount?: number | null;
        logLineCount?: number | null;
      } | null;
    } | null;
  }>('RunResumeStatus', RUN_RESUME_STATUS, {
    project: where.project,
    entity: where.entity,
    name: where.runId,
  });
  const b = data.model?.bucket;
  if (b === undefined || b === null) return undefined;
  return {
    historyLineCount: b.historyLineCount ?? 0,
    eventsLineCount: b.eventsLineCount ?? 0,
    logLineCount: b.logLineCount ?? 0,
  };
}
