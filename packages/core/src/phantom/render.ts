/**
 * Tissue classes to stored MR integers: LGE contrast, partial-volume blur at the acquired
 * resolution (separable, anisotropic), respiratory ghosts, a smooth receive-coil bias field,
 * Rician noise (magnitude of complex Gaussian) and 12-bit quantisation.
 */
import type { Geometry } from '../volume.js';
import type { Acquisition } from './acquisition.js';
import { Rng } from './random.js';

export const MAX_STORED_VALUE = 4095;

export interface RenderSettings {
  readonly levels: Float32Array;
  /** Relative level of the blood pool: the noise is set from blood / SNR. */
  readonly blood: number;
  readonly acquisition: Acquisition;
  readonly seed: number;
}

export interface RenderReport {
  readonly ghosts: number;
  readonly ghostAmplitude: number;
  readonly noiseSigma: number;
  readonly biasRange: readonly [number, number];
}

export function renderImage(
  g: Geometry,
  labels: Uint8Array,
  s: RenderSettings,
): { data: Int16Array; report: RenderReport } {
  const rng = new Rng(s.seed);
  const [nx, ny, nz] = g.dims;
  const n = nx * ny * nz;
  const img = new Float32Array(n);
  const levels = s.levels;
  for (let v = 0; v < n; v++) img[v] = levels[labels[v]!]!;

  // Partial volume: the image was acquired coarser than it is stored.
  const acq = s.acquisition;
  const sigmaInPlaneMm = 0.45 * acq.acquiredInPlaneMm;
  const sigmaSliceMm = 0.35 * acq.sliceThicknessMm;
  blurAxis(img, g.dims, 0, sigmaInPlaneMm / g.spacing[0]);
  blurAxis(img, g.dims, 1, sigmaInPlaneMm / g.spacing[1]);
  blurAxis(img, g.dims, 2, sigmaSliceMm / g.spacing[2]);

  // Respiratory ghosts along the phase-encoding direction (navigator-gated 3D LGE shows them).
  const ghosts = rng.chance(0.35) ? rng.int(1, 2) : 0;
  const ghostAmplitude = ghosts ? rng.uniform(0.03, 0.1) : 0;
  if (ghosts) {
    const axisLen = acq.phaseEncoding === 'column' ? ny : nx;
    const base = Math.round(axisLen * rng.uniform(0.12, 0.3));
    addGhosts(img, g.dims, acq.phaseEncoding === 'column' ? 1 : 0, base, ghosts, ghostAmplitude);
  }

  // Receive-coil bias: smooth, multiplicative, brighter near the anterior/posterior coils.
  const planeBias = new Float32Array(nx * ny);
  const c = Array.from({ length: 5 }, () => rng.normal() * 0.18);
  const coil = rng.uniform(0.1, 0.45);
  const coilWidth = rng.uniform(0.25, 0.6);
  const coilSide = rng.chance(0.5) ? 1 : -1;
  let biasLo = Infinity;
  let biasHi = -Infinity;
  for (let j = 0; j < ny; j++) {
    const v = (2 * j) / (ny - 1) - 1;
    for (let i = 0; i < nx; i++) {
      const u = (2 * i) / (nx - 1) - 1;
      const logBias =
        c[0]! * u +
        c[1]! * v +
        c[2]! * u * u +
        c[3]! * v * v +
        c[4]! * u * v +
        coil * Math.exp(-((v - coilSide) ** 2) / coilWidth);
      const b = Math.exp(logBias);
      planeBias[i + nx * j] = b;
      biasLo = Math.min(biasLo, b);
      biasHi = Math.max(biasHi, b);
    }
  }
  const cz = [rng.normal() * 0.12, rng.normal() * 0.1];
  const sliceBias = new Float32Array(nz);
  for (let k = 0; k < nz; k++) {
    const w = nz > 1 ? (2 * k) / (nz - 1) - 1 : 0;
    sliceBias[k] = Math.exp(cz[0]! * w + cz[1]! * w * w);
  }

  // Rician noise: |signal + complex Gaussian|. Normals come from a seeded table, indexed by a
  // xorshift stream: two table look-ups per voxel instead of two logs and two sines.
  const table = new Float32Array(1 << 16);
  for (let t = 0; t < table.length; t++) table[t] = rng.normal();
  let state = (rng.int(1, 0x7fffffff) | 1) >>> 0;
  const gain = acq.gain;
  const sigma = (s.blood * gain) / acq.snr;
  const out = new Int16Array(n);
  const plane = nx * ny;
  for (let k = 0; k < nz; k++) {
    const zb = sliceBias[k]!;
    const offset = k * plane;
    for (let p = 0; p < plane; p++) {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      const n1 = table[state & 0xffff]!;
      const n2 = table[(state >>> 16) & 0xffff]!;
      const signal = img[offset + p]! * gain * zb * planeBias[p]!;
      const re = signal + sigma * n1;
      const im = sigma * n2;
      const m = Math.round(Math.sqrt(re * re + im * im));
      out[offset + p] = m > MAX_STORED_VALUE ? MAX_STORED_VALUE : m;
    }
  }
  return {
    data: out,
    report: { ghosts, ghostAmplitude, noiseSigma: sigma, biasRange: [biasLo, biasHi] },
  };
}

/** In-place Gaussian blur along one axis (clamped edges); sigma in voxels, skipped when tiny. */
export function blurAxis(
  data: Float32Array,
  dims: readonly [number, number, number],
  axis: 0 | 1 | 2,
  sigma: number,
): void {
  if (!(sigma > 0.2)) return;
  const radius = Math.max(1, Math.ceil(2 * sigma));
  const taps = 2 * radius + 1;
  const weights = new Float64Array(taps);
  let sum = 0;
  for (let t = -radius; t <= radius; t++) {
    const w = Math.exp(-(t * t) / (2 * sigma * sigma));
    weights[t + radius] = w;
    sum += w;
  }
  for (let t = 0; t < taps; t++) weights[t]! /= sum;
  const [nx, ny, nz] = dims;
  if (axis === 0) {
    // Each row into a padded copy (edges replicated), then taps outermost: branch-free inner loops.
    const padded = new Float32Array(nx + 2 * radius);
    const acc = new Float32Array(nx);
    for (let row = 0; row < ny * nz; row++) {
      const o = row * nx;
      padded.set(data.subarray(o, o + nx), radius);
      const first = data[o]!;
      const last = data[o + nx - 1]!;
      for (let t = 0; t < radius; t++) {
        padded[t] = first;
        padded[nx + radius + t] = last;
      }
      const w0 = weights[0]!;
      for (let i = 0; i < nx; i++) acc[i] = w0 * padded[i]!;
      for (let t = 1; t < taps; t++) {
        const w = weights[t]!;
        for (let i = 0; i < nx; i++) acc[i]! += w * padded[i + t]!;
      }
      data.set(acc, o);
    }
    return;
  }
  // Along j or k: blur whole rows at once (contiguous in i) from a copy of the lines involved.
  const count = axis === 1 ? ny : nz;
  const stride = axis === 1 ? nx : nx * ny;
  const outer = axis === 1 ? nz : ny;
  const outerStride = axis === 1 ? nx * ny : nx;
  const copy = new Float32Array(count * nx);
  const acc = new Float32Array(nx);
  for (let o = 0; o < outer; o++) {
    const base = o * outerStride;
    for (let q = 0; q < count; q++)
      copy.set(data.subarray(base + q * stride, base + q * stride + nx), q * nx);
    for (let q = 0; q < count; q++) {
      acc.fill(0);
      for (let t = -radius; t <= radius; t++) {
        const src = (q + t < 0 ? 0 : q + t >= count ? count - 1 : q + t) * nx;
        const w = weights[t + radius]!;
        for (let i = 0; i < nx; i++) acc[i]! += w * copy[src + i]!;
      }
      data.set(acc, base + q * stride);
    }
  }
}

/** Adds `count` faint copies of the image shifted (with wrap-around) along the phase axis. */
function addGhosts(
  data: Float32Array,
  dims: readonly [number, number, number],
  axis: 0 | 1,
  shift: number,
  count: number,
  amplitude: number,
): void {
  const [nx, ny, nz] = dims;
  const source = Float32Array.from(data);
  for (let g = 1; g <= count; g++) {
    const a = amplitude / g;
    const sh = shift * g;
    for (let k = 0; k < nz; k++) {
      for (let j = 0; j < ny; j++) {
        const row = nx * (j + ny * k);
        if (axis === 1) {
          const srcRow = nx * (((j + sh) % ny) + ny * k);
          for (let i = 0; i < nx; i++) data[row + i]! += a * source[srcRow + i]!;
        } else {
          for (let i = 0; i < nx; i++) data[row + i]! += a * source[row + ((i + sh) % nx)]!;
        }
      }
    }
  }
}
