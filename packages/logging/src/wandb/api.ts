import type { RunRecord } from './runFiles.js';
import type { WandbTransport } from './transport.js';

const UPSERT_BUCKET = `mutation UpsertBucket($id: String, $name: String, $project: String, $entity: String, $groupName: String, $description: String, $displayName: String, $notes: String, $commit: String, $config: JSONString, $host: String, $debug: Boolean, $program: String, $repo: String, $jobType: String, $state: String, $sweep: String, $tags: [String!], $summaryMetrics: JSONString) {
  upsertBucket(input: {id: $id, name: $name, groupName: $groupName, modelName: $project, entityName: $entity, description: $description, displayName: $displayName, notes: $notes, config: $config, commit: $commit, host: $host, debug: $debug, jobProgram: $program, jobRepo: $repo, jobType: $jobType, state: $state, sweep: $sweep, tags: $tags, summaryMetrics: $summaryMetrics}) {
    bucket { id name displayName description project { id name entity { id name } } historyLineCount }
    inserted
  }
}`;

const CREATE_RUN_FILES = `mutation CreateRunFiles($entity: String!, $project: String!, $run: String!, $files: [String!]!) {
  createRunFiles(input: {entityName: $entity, projectName: $project, runName: $run, files: $files}) {
    runID
    uploadHeaders
    files { name uploadUrl }
  }
}`;

/** The server's view of a run after `upsertBucket`. */
export interface UpsertResult {
  entity: string;
  project: string;
  storageId: string;
  historyLineCount: number;
  inserted: boolean;
}

interface UpsertData {
  upsertBucket: {
    bucket: {
      id: string;
      name: string;
      historyLineCount?: number | null;
      project: { name: string; entity: { name: string } };
    };
    inserted?: boolean;
  };
}

/** Creates or resumes the run (`upsertBucket`), returning the resolved entity and line count. */
export async function upsertRun(
  transport: WandbTransport,
  run: RunRecord,
  host: string,
): Promise<UpsertResult> {
  const vars: Record<string, unknown> = {
    name: run.runId,
    project: run.project,
    entity: run.entity,
    displayName: run.displayName,
    groupName: run.group,
    jobType: run.jobType,
    notes: run.notes,
    tags: run.tags,
    config: run.config,
    host,
    program: 'runner',
  };
  for (const k of Object.keys(vars)) if (vars[k] === undefined) delete vars[k];
  const data = await transport.graphql<UpsertData>('upsertBucket', UPSERT_BUCKET, vars, 'upsert');
  const b = data.upsertBucket.bucket;
  return {
    entity: b.project.entity.name,
    project: b.project.name,
    storageId: b.id,
    historyLineCount: b.historyLineCount ?? 0,
    inserted: data.upsertBucket.inserted ?? false,
  };
}

/** Upload URLs for run files (`createRunFiles`). */
export interface RunFileUrls {
  uploadHeaders: string[];
  urls: Map<string, string>;
}

interface CreateRunFilesData {
  createRunFiles: {
    uploadHeaders?: string[] | null;
    files: { name: string; uploadUrl?: string | null }[];
  };
}

/** Asks the server where to PUT the named run files. */
export async function createRunFiles(
  transport: WandbTransport,
  path: { entity: string; project: string; runId: string },
  names: string[],
): Promise<RunFileUrls> {
  const data = await transport.graphql<CreateRunFilesData>('createRunFiles', CREATE_RUN_FILES, {
    entity: path.entity,
    project: path.project,
    run: path.runId,
    files: names,
  });
  const urls = new Map<string, string>();
  for (const f of data.createRunFiles.files) {
    if (typeof f.uploadUrl === 'string' && f.uploadUrl !== '') urls.set(f.name, f.uploadUrl);
  }
  return { uploadHeaders: data.createRunFiles.uploadHeaders ?? [], urls };
}

/** W&B's config form: every top-level key wrapped as `{"value": …}`. */
export function wandbConfigJson(config: Record<string, unknown>): string {
  const out: Record<string, { value: unknown }> = {};
  for (const [k, v] of Object.entries(config)) out[k] = { value: v };
  return JSON.stringify(out);
}
