import type { NBodyState } from './nbody.js';

/** Time derivatives of the acceleration of one system, each `[N, 3]`. */
export interface AccelerationDerivatives {
  jerk: Float64Array;
  snap: Float64Array;
  crackle: Float64Array;
}

/**
 * Analytic jerk, snap and crackle of system `b` (Plummer-softened, recursive pair formulas of
 * Nitadori & Makino 2008) from its positions, velocities and cached accelerations. Two O(N²)
 * passes; the caller counts them as force evaluations.
 */
export function accelerationDerivatives(s: NBodyState, b: number): AccelerationDerivatives {
  const { N, x, v, a, m } = s;
  const o = b * N * 3;
  const e2 = s.eps * s.eps;
  const jerk = new Float64Array(N * 3);
  const snap = new Float64Array(N * 3);
  const crackle = new Float64Array(N * 3);
  for (let pass = 0; pass < 2; pass++) {
    for (let i = 0; i < N; i++) {
      const ii = o + i * 3;
      const mi = m[b * N + i] as number;
      for (let j = i + 1; j < N; j++) {
        const jj = o + j * 3;
        const mj = m[b * N + j] as number;
        const rx = (x[jj] as number) - (x[ii] as number);
        const ry = (x[jj + 1] as number) - (x[ii + 1] as number);
        const rz = (x[jj + 2] as number) - (x[ii + 2] as number);
        const wx = (v[jj] as number) - (v[ii] as number);
        const wy = (v[jj + 1] as number) - (v[ii + 1] as number);
        const wz = (v[jj + 2] as number) - (v[ii + 2] as number);
        const s2 = rx * rx + ry * ry + rz * rz + e2;
        const inv = 1 / Math.sqrt(s2);
        const inv3 = inv * inv * inv;
        const alpha = (rx * wx + ry * wy + rz * wz) / s2;
        const Ax = rx * inv3;
        const Ay = ry * inv3;
        const Az = rz * inv3;
        const Jx = wx * inv3 - 3 * alpha * Ax;
        const Jy = wy * inv3 - 3 * alpha * Ay;
        const Jz = wz * inv3 - 3 * alpha * Az;
        if (pass === 0) {
          jerk[i * 3] = (jerk[i * 3] as number) + mj * Jx;
          jerk[i * 3 + 1] = (jerk[i * 3 + 1] as number) + mj * Jy;
          jerk[i * 3 + 2] = (jerk[i * 3 + 2] as number) + mj * Jz;
          jerk[j * 3] = (jerk[j * 3] as number) - mi * Jx;
          jerk[j * 3 + 1] = (jerk[j * 3 + 1] as number) - mi * Jy;
          jerk[j * 3 + 2] = (jerk[j * 3 + 2] as number) - mi * Jz;
          continue;
        }
        const ax = (a[jj] as number) - (a[ii] as number);
        const ay = (a[jj + 1] as number) - (a[ii + 1] as number);
        const az = (a[jj + 2] as number) - (a[ii + 2] as number);
        const jx = (jerk[j * 3] as number) - (jerk[i * 3] as number);
        const jy = (jerk[j * 3 + 1] as number) - (jerk[i * 3 + 1] as number);
        const jz = (jerk[j * 3 + 2] as number) - (jerk[i * 3 + 2] as number);
        const beta =
          (wx * wx + wy * wy + wz * wz + rx * ax + ry * ay + rz * az) / s2 + alpha * alpha;
        const gamma =
          (3 * (wx * ax + wy * ay + wz * az) + rx * jx + ry * jy + rz * jz) / s2 +
          alpha * (3 * beta - 4 * alpha * alpha);
        const Sx = ax * inv3 - 6 * alpha * Jx - 3 * beta * Ax;
        const Sy = ay * inv3 - 6 * alpha * Jy - 3 * beta * Ay;
        const Sz = az * inv3 - 6 * alpha * Jz - 3 * beta * Az;
        const Cx = jx * inv3 - 9 * alpha * Sx - 9 * beta * Jx - 3 * gamma * Ax;
        const Cy = jy * inv3 - 9 * alpha * Sy - 9 * beta * Jy - 3 * gamma * Ay;
        const Cz = jz * inv3 - 9 * alpha * Sz - 9 * beta * Jz - 3 * gamma * Az;
        snap[i * 3] = (snap[i * 3] as number) + mj * Sx;
        snap[i * 3 + 1] = (snap[i * 3 + 1] as number) + mj * Sy;
        snap[i * 3 + 2] = (snap[i * 3 + 2] as number) + mj * Sz;
        snap[j * 3] = (snap[j * 3] as number) - mi * Sx;
        snap[j * 3 + 1] = (snap[j * 3 + 1] as number) - mi * Sy;
        snap[j * 3 + 2] = (snap[j * 3 + 2] as number) - mi * Sz;
        crackle[i * 3] = (crackle[i * 3] as number) + mj * Cx;
        crackle[i * 3 + 1] = (crackle[i * 3 + 1] as number) + mj * Cy;
        crackle[i * 3 + 2] = (crackle[i * 3 + 2] as number) + mj * Cz;
        crackle[j * 3] = (crackle[j * 3] as number) - mi * Cx;
        crackle[j * 3 + 1] = (crackle[j * 3 + 1] as number) - mi * Cy;
        crackle[j * 3 + 2] = (crackle[j * 3 + 2] as number) - mi * Cz;
      }
    }
  }
  return { jerk, snap, crackle };
}
