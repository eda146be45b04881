import { XError } from '@x/core';
import { parseShard, type Shard } from '@x/operator-replay';

type Env = Readonly<Record<string, string | undefined>>;

/** Where an array task's index came from. */
export interface ArrayTask extends Shard {
  /** The variables read, e.g. `SLURM_ARRAY_TASK_ID=3, SLURM_ARRAY_TASK_COUNT=8`. */
  source: string;
}

const SLURM_ID = 'SLURM_ARRAY_TASK_ID';
const SLURM_COUNT = 'SLURM_ARRAY_TASK_COUNT';
const SLURM_MIN = 'SLURM_ARRAY_TASK_MIN';
const SLURM_STEP = 'SLURM_ARRAY_TASK_STEP';
const K8S_INDEX = 'JOB_COMPLETION_INDEX';
const K8S_COUNT = 'JOB_COMPLETIONS';

function envInt(env: Env, name: string, what: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n))
    throw new XError('INVALID_INPUT', `${what}: ${name}='${raw}' is not a non-negative integer`);
  return n;
}

function bad(what: string, text: string): never {
  throw new XError('INVALID_INPUT', `${what}: ${text}`);
}

/**
 * The index and count of this array task, read from the scheduler's environment: a SLURM job
 * array (`SLURM_ARRAY_TASK_ID` minus `SLURM_ARRAY_TASK_MIN`, of `SLURM_ARRAY_TASK_COUNT`) or a
 * Kubernetes Indexed Job (`JOB_COMPLETION_INDEX`, of `JOB_COMPLETIONS`, which Kubernetes does not
 * set: the manifest passes it, or the caller gives `count`). A given `count` must agree with the
 * scheduler's count when both are present. Missing or inconsistent variables are `INVALID_INPUT`
 * naming them.
 */
export function arrayTask(what: string, count?: number, env: Env = process.env): ArrayTask {
  const slurm = env[SLURM_ID] !== undefined && env[SLURM_ID] !== '';
  const k8s = env[K8S_INDEX] !== undefined && env[K8S_INDEX] !== '';
  if (slurm && k8s)
    bad(
      what,
      `both ${SLURM_ID} and ${K8S_INDEX} are set; cannot tell a SLURM array from a Kubernetes Indexed Job`,
    );
  if (!slurm && !k8s)
    bad(
      what,
      `'auto' needs a SLURM job array (${SLURM_ID} and ${SLURM_COUNT}) or a Kubernetes Indexed Job (${K8S_INDEX}, with ${K8S_COUNT} or an explicit count as auto/<n>); none of these variables is set`,
    );
  const [idName, countName] = slurm ? [SLURM_ID, SLURM_COUNT] : [K8S_INDEX, K8S_COUNT];
  let index = envInt(env, idName, what) as number;
  const envCount = envInt(env, countName, what);
  if (slurm) {
    const step = envInt(env, SLURM_STEP, what);
    if (step !== undefined && step !== 1)
      bad(
        what,
        `${SLURM_STEP}=${step}: the array must be contiguous (e.g. --array=0-7), not stepped`,
      );
    const min = envInt(env, SLURM_MIN, what) ?? 0;
    if (index < min) bad(what, `${SLURM_ID}=${index} is below ${SLURM_MIN}=${min}`);
    index -= min;
  }
  if (count !== undefined && envCount !== undefined && count !== envCount)
    bad(what, `the explicit count ${count} disagrees with ${countName}=${envCount}`);
  const n = count ?? envCount;
  if (n === undefined)
    bad(
      what,
      slurm
        ? `${SLURM_ID} is set but ${SLURM_COUNT} is not`
        : `${K8S_INDEX} is set but the completion count is not: set ${K8S_COUNT} in the Job's env (equal to spec.completions) or pass auto/<n>`,
    );
  if (n < 1) bad(what, `${countName}=${n}: expected at least 1 task`);
  if (index >= n)
    bad(
      what,
      `${idName}=${env[idName] ?? ''} is outside the array of ${n} tasks${slurm && (env[SLURM_MIN] ?? '0') !== '0' ? ` (${SLURM_MIN}=${env[SLURM_MIN]})` : ''}`,
    );
  const source = [`${idName}=${env[idName] ?? ''}`];
  if (envCount !== undefined) source.push(`${countName}=${envCount}`);
  if (count !== undefined) source.push(`count ${count}`);
  return { index, count: n, source: source.join(', ') };
}

/**
 * Parses a `--shard` value: `<i>/<n>`, `auto` (index and count from the array scheduler) or
 * `auto/<n>` (index from the scheduler, count given).
 */
export function parseShardFlag(text: string, env: Env = process.env): Shard {
  const m = /^auto(?:\/(\d+))?$/.exec(text.trim());
  if (m === null) return parseShard(text, '--shard');
  const count = m[1] === undefined ? undefined : Number(m[1]);
  if (count !== undefined && count < 1)
    bad('--shard', `expected auto/<n> with n >= 1, got '${text}'`);
  const { index, count: n } = arrayTask('--shard auto', count, env);
  return { index, count: n };
}
