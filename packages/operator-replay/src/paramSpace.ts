import { XError } from '@x/core';
import { z } from 'zod';

/** The 14 parameter names, in column order of `/parameters/params`. */
export const PARAMETER_NAMES = [
  'num_layers',
  'base_channels',
  'kernel_size',
  'activation',
  'dropout_rate',
  'noise_type',
  'noise_scale',
  'noise_schedule',
  'spatial_correlation',
  'normalization',
  'grid_size',
  'update_policy',
  'alpha',
  'dt',
] as const;

/** One of the 14 parameter names. */
export type ParameterName = (typeof PARAMETER_NAMES)[number];

const intSpec = z.strictObject({
  kind: z.literal('int'),
  min: z.number().int(),
  max: z.number().int(),
});
const floatSpec = z.strictObject({
  kind: z.literal('float'),
  min: z.number(),
  max: z.number(),
  log: z.boolean().default(false),
});
const choiceSpec = z.strictObject({
  kind: z.literal('choice'),
  options: z.array(z.union([z.string(), z.number()])).min(1),
  weights: z.array(z.number().positive()).optional(),
});

/** Schema of one parameter's range: integer, continuous (optionally log-scale) or categorical. */
export const parameterSpecSchema = z.discriminatedUnion('kind', [intSpec, floatSpec, choiceSpec]);

/** One parameter's range and encoding. */
export type ParameterSpec = z.infer<typeof parameterSpecSchema>;

/** The ranges of all 14 parameters. */
export type ParameterSpace = Record<ParameterName, ParameterSpec>;

/** Values a categorical parameter may take, per parameter (anything else is rejected). */
export const CATEGORICAL_VALUES = {
  kernel_size: [3, 5, 7],
  activation: ['gelu'],
  noise_type: ['gaussian', 'laplace', 'multiplicative'],
  noise_schedule: ['constant', 'annealing', 'periodic'],
  normalization: ['instance', 'group', 'none'],
  update_policy: ['autoregressive', 'residual', 'convex'],
} as const satisfies Partial<Record<ParameterName, readonly (string | number)[]>>;

/**
 * The default space: the original's ranges where they fit a CPU (channels 4–16, grid 32), every
 * categorical value available.
 */
export const DEFAULT_PARAMETER_SPACE: ParameterSpace = {
  num_layers: { kind: 'int', min: 2, max: 5 },
  base_channels: { kind: 'int', min: 4, max: 16 },
  kernel_size: { kind: 'choice', options: [3, 5, 7] },
  activation: { kind: 'choice', options: ['gelu'] },
  dropout_rate: { kind: 'float', min: 0, max: 0.3, log: false },
  noise_type: { kind: 'choice', options: ['gaussian', 'laplace', 'multiplicative'] },
  noise_scale: { kind: 'float', min: 1e-5, max: 1, log: true },
  noise_schedule: { kind: 'choice', options: ['constant', 'annealing', 'periodic'] },
  spatial_correlation: { kind: 'float', min: 0, max: 0.3, log: false },
  normalization: { kind: 'choice', options: ['instance', 'group'] },
  grid_size: { kind: 'choice', options: [32] },
  update_policy: { kind: 'choice', options: ['autoregressive', 'residual', 'convex'] },
  alpha: { kind: 'float', min: 0.1, max: 0.9, log: false },
  dt: { kind: 'float', min: 0.001, max: 0.1, log: true },
};

/** Architecture and rollout settings of one operator, mapped from its 14 unit-cube values. */
export interface OperatorParams {
  numLayers: number;
  baseChannels: number;
  kernelSize: number;
  activation: 'gelu';
  /** Recorded as in the original; dropout is inactive at inference, so it has no effect. */
  dropoutRate: number;
  noiseType: 'gaussian' | 'laplace' | 'multiplicative';
  noiseScale: number;
  noiseSchedule: 'constant' | 'annealing' | 'periodic';
  spatialCorrelation: number;
  normalization: 'instance' | 'group' | 'none';
  gridSize: number;
  updatePolicy: 'autoregressive' | 'residual' | 'convex';
  alpha: number;
  dt: number;
}

function bad(message: string): XError {
  return new XError('INVALID_CONFIG', message);
}

/**
 * Validates a space: ranges ordered, log ranges positive, categorical values known, one grid size
 * (the contract stores `/inputs/fields` as (N, C, H, W)), `alpha` inside [0, 1).
 */
export function validateSpace(space: ParameterSpace): ParameterSpace {
  for (const name of PARAMETER_NAMES) {
    const s = space[name];
    const where = `parameters.${name}`;
    if (s.kind === 'int' || s.kind === 'float') {
      if (!(s.min <= s.max)) throw bad(`${where}: min ${s.min} is above max ${s.max}`);
      if (s.kind === 'float' && s.log && s.min <= 0)
        throw bad(`${where}: a log-scale range needs min > 0, got ${s.min}`);
    } else {
      const allowed = (CATEGORICAL_VALUES as Partial<Record<string, readonly unknown[]>>)[name];
      for (const o of s.options) {
        if (allowed !== undefined && !allowed.includes(o))
          throw bad(
            `${where}: unknown option ${JSON.stringify(o)} (allowed: ${allowed.join(', ')})`,
          );
      }
      if (s.weights !== undefined && s.weights.length !== s.options.length)
        throw bad(`${where}: ${s.weights.length} weights for ${s.options.length} options`);
    }
  }
  const kinds: Partial<Record<ParameterName, ParameterSpec['kind']>> = {
    num_layers: 'int',
    base_channels: 'int',
    dropout_rate: 'float',
    noise_scale: 'float',
    spatial_correlation: 'float',
    alpha: 'float',
    dt: 'float',
  };
  for (const [name, kind] of Object.entries(kinds)) {
    const s = space[name as ParameterName];
    if (s.kind !== kind) throw bad(`parameters.${name}: expected kind '${kind}', got '${s.kind}'`);
  }
  for (const name of Object.keys(CATEGORICAL_VALUES).concat('grid_size')) {
    if (space[name as ParameterName].kind !== 'choice')
      throw bad(`parameters.${name}: expected kind 'choice'`);
  }
  const grid = space.grid_size as { options: unknown[] };
  if (grid.options.length !== 1)
    throw bad(
      `parameters.grid_size: a dataset has one grid size (/inputs/fields is (N, C, H, W)), got ${grid.options.length} options`,
    );
  const alpha = space.alpha as { min: number; max: number };
  if (alpha.min < 0 || alpha.max >= 1)
    throw bad(
      `parameters.alpha: the convex policy needs 0 <= alpha < 1, got [${alpha.min}, ${alpha.max}]`,
    );
  const nl = space.num_layers as { min: number; max: number };
  if (nl.min < 1) throw bad(`parameters.num_layers: need at least 1 block, got min ${nl.min}`);
  const bc = space.base_channels as { min: number };
  if (bc.min < 1) throw bad(`parameters.base_channels: need at least 1 channel, got min ${bc.min}`);
  return space;
}

function mapOne(name: ParameterName, spec: ParameterSpec, u: number): number | string {
  if (!(u >= 0 && u <= 1))
    throw new XError('INVALID_INPUT', `${name}: unit-cube value ${u} is outside [0, 1]`);
  switch (spec.kind) {
    case 'int':
      return Math.round(spec.min + u * (spec.max - spec.min));
    case 'float':
      if (!spec.log) return spec.min + u * (spec.max - spec.min);
      return 10 ** (Math.log10(spec.min) + u * (Math.log10(spec.max) - Math.log10(spec.min)));
    case 'choice': {
      const n = spec.options.length;
      let idx: number;
      if (spec.weights === undefined) idx = Math.min(Math.floor(u * n), n - 1);
      else {
        const total = spec.weights.reduce((a, b) => a + b, 0);
        let acc = 0;
        idx = n - 1;
        for (let i = 0; i < n; i++) {
          acc += (spec.weights[i] as number) / total;
          if (u < acc) {
            idx = i;
            break;
          }
        }
      }
      return spec.options[idx] as number | string;
    }
  }
}

/**
 * Maps 14 unit-cube values (float64) to an operator's architecture and rollout settings:
 * integers `round(lo + u(hi - lo))`, continuous linear or `10^(log lo + u·Δ)`, choices
 * `floor(u·n)` (or by cumulative weights). Rejects values outside [0, 1] and invalid combinations
 * (a kernel wider than the grid) with an XError naming the parameter.
 *
 * @example
 * const p = mapParameters(new Float64Array(14).fill(0.5), DEFAULT_PARAMETER_SPACE);
 */
export function mapParameters(u: ArrayLike<number>, space: ParameterSpace): OperatorParams {
  if (u.length !== PARAMETER_NAMES.length)
    throw new XError(
      'INVALID_INPUT',
      `expected ${PARAMETER_NAMES.length} parameter values, got ${u.length}`,
    );
  const v = {} as Record<ParameterName, number | string>;
  PARAMETER_NAMES.forEach((name, i) => {
    v[name] = mapOne(name, space[name], u[i] as number);
  });
  const p: OperatorParams = {
    numLayers: v.num_layers as number,
    baseChannels: v.base_channels as number,
    kernelSize: v.kernel_size as number,
    activation: v.activation as 'gelu',
    dropoutRate: v.dropout_rate as number,
    noiseType: v.noise_type as OperatorParams['noiseType'],
    noiseScale: v.noise_scale as number,
    noiseSchedule: v.noise_schedule as OperatorParams['noiseSchedule'],
    spatialCorrelation: v.spatial_correlation as number,
    normalization: v.normalization as OperatorParams['normalization'],
    gridSize: v.grid_size as number,
    updatePolicy: v.update_policy as OperatorParams['updatePolicy'],
    alpha: v.alpha as number,
    dt: v.dt as number,
  };
  validateOperatorParams(p);
  return p;
}

/** Rejects combinations no operator can be built from, naming the parameters involved. */
export function validateOperatorParams(p: OperatorParams): void {
  const fail = (m: string) => new XError('INVALID_INPUT', m);
  if (p.kernelSize % 2 !== 1) throw fail(`kernel_size: must be odd, got ${p.kernelSize}`);
  if (p.kernelSize > p.gridSize)
    throw fail(`kernel_size ${p.kernelSize} is wider than grid_size ${p.gridSize}`);
  if (p.normalization === 'group' && p.baseChannels < 2)
    throw fail(`normalization 'group' needs base_channels >= 2, got ${p.baseChannels}`);
  if (p.updatePolicy === 'convex' && !(p.alpha >= 0 && p.alpha < 1))
    throw fail(`alpha: the convex policy needs 0 <= alpha < 1, got ${p.alpha}`);
  if (p.updatePolicy === 'residual' && !(p.dt > 0)) throw fail(`dt: must be positive, got ${p.dt}`);
  if (!(p.noiseScale >= 0)) throw fail(`noise_scale: must be >= 0, got ${p.noiseScale}`);
}

/** Hidden widths of the blocks: `base · 2^min(i, 2)` for block i (as the original). */
export function blockChannels(p: OperatorParams): number[] {
  return Array.from({ length: p.numLayers }, (_, i) => p.baseChannels * 2 ** Math.min(i, 2));
}
