/**
 * Tissue classes to stored MR integers: LGE contrast, partial-volume blur at the acquired
 * resolution (separable, anisotropic), respiratory ghosts, a smooth receive-coil bias field,
 * Rician noise (magnitude of complex Gaussian) and 12-bit quantisation. The held-out 'shift'
 * style swaps the noise for a multi-coil sum-of-squares with correlated samples and a g-factor
 * map, adds wrap-around and uses stronger ghosts (acquisition.ts gives it coarser blur).
 */
import type { Geometry } from '../volume.js';
import type { Acquisition } from './acquisition.js';
import { Rng } from './random.js';

export const MAX_STORED_VALUE = 4095;

/** Randomised ranges of the rendering draws (training/README.md, "Domain randomisation"). */
export const RENDER_RANGES = {
  ghostChance: 0.45,
  ghostCount: [1, 3],
  ghostAmplitude: [0.02, 0.12],
  /** Standard deviation of the bias polynomial's coefficients (log scale), and the coil bump. */
  biasCoefficientSd: 0.22,
  coilBoost: [0.1, 0.6],
} as const;

/** Classic draws: ghosts in 35 % of cases, one or two at 3-10 %, a milder bias field. */
const CLASSIC_RENDER = {
  ghostChance: 0.35,
  ghostCount: [1, 2],
  ghostAmplitude: [0.03, 0.1],
  biasCoefficientSd: 0.18,
  coilBoost: [0.1, 0.45],
} as const;

/** The style shift's noise and artefacts, outside the training ranges. */
export const SHIFT_RENDER = {
  coils: [6, 8, 12],
  /** g-factor at the centre of the phase axis (SENSE-like, 1 at the edges). */
  gFactorMax: [1.3, 2.0],
  /** Complex samples are 4-sample moving averages along the row (neighbour correlation 0.75). */
  correlationTaps: 4,
  ghostCount: [2, 3],
  ghostAmplitude: [0.13, 0.18],
  /** Share of the phase-encoded field folded over onto the opposite side. */
  wrapFraction: [0.1, 0.2],
} as const;

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
  /** Per-channel noise standard deviation (stored units); one channel unless style 'shift'. */
  readonly noiseSigma: number;
  readonly biasRange: readonly [number, number];
  readonly noiseModel: 'rician' | 'sum-of-squares';
  readonly coils: number;
  readonly gFactorMax: number;
  readonly wrapFraction: number;
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
  // Tissue levels are written inside the body's box only (applyTexture): the rest is air, 0.

  // Partial volume: the image was acquired coarser than it is stored.
  const acq = s.acquisition;
  const sigmaInPlaneMm = 0.45 * acq.acquiredInPlaneMm;
  const sigmaSliceMm = 0.35 * acq.sliceThicknessMm;
  // Air is exactly 0 before blurring: only the body's box needs work.
  const body = nonZeroBox(labels, g.dims);
  if (body) {
    // Tissue is never perfectly flat (flow, partial volume of small structures): a gentle
    // multiplicative mottle a few millimetres across.
    const texture = rng.fork(0x7e);
    applyTexture(
      img,
      labels,
      levels,
      g.dims,
      g.spacing,
      body,
      texture,
      texture.uniform(0.03, 0.08),
      texture.uniform(4, 9),
    );
    let box = blurAxis(img, g.dims, 0, sigmaInPlaneMm / g.spacing[0], body);
    box = blurAxis(img, g.dims, 1, sigmaInPlaneMm / g.spacing[1], box);
    blurAxis(img, g.dims, 2, sigmaSliceMm / g.spacing[2], box);
  }

  // Respiratory ghosts along the phase-encoding direction (navigator-gated 3D LGE shows them).
  const shift = acq.style === 'shift';
  const G = acq.style === 'classic' ? CLASSIC_RENDER : RENDER_RANGES;
  const ghosts = shift
    ? rng.int(SHIFT_RENDER.ghostCount[0], SHIFT_RENDER.ghostCount[1])
    : rng.chance(G.ghostChance)
      ? rng.int(G.ghostCount[0], G.ghostCount[1])
      : 0;
  const ghostAmplitude = !ghosts
    ? 0
    : shift
      ? rng.uniform(SHIFT_RENDER.ghostAmplitude[0], SHIFT_RENDER.ghostAmplitude[1])
      : rng.uniform(G.ghostAmplitude[0], G.ghostAmplitude[1]);
  const phaseAxis: 0 | 1 = acq.phaseEncoding === 'column' ? 1 : 0;
  if (ghosts) {
    const axisLen = phaseAxis === 1 ? ny : nx;
    const base = Math.round(axisLen * rng.uniform(0.12, 0.3));
    addGhosts(img, labels, levels, g.dims, phaseAxis, base, ghosts, ghostAmplitude);
  }
  let wrapFraction = 0;
  if (shift) {
    const extra = rng.fork(0x3a);
    wrapFraction = extra.uniform(SHIFT_RENDER.wrapFraction[0], SHIFT_RENDER.wrapFraction[1]);
    wrapAround(img, g.dims, phaseAxis, Math.round(wrapFraction * g.dims[phaseAxis]));
  }

  // Receive-coil bias: smooth, multiplicative, brighter near the anterior/posterior coils.
  const planeBias = new Float32Array(nx * ny);
  const c = Array.from({ length: 5 }, () => rng.normal() * G.biasCoefficientSd);
  const coil = rng.uniform(G.coilBoost[0], G.coilBoost[1]);
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
  if (shift) {
    const noise = rng.fork(0x5c);
    const coils = noise.pick(SHIFT_RENDER.coils);
    const gFactorMax = noise.uniform(SHIFT_RENDER.gFactorMax[0], SHIFT_RENDER.gFactorMax[1]);
    const data = multiCoilNoise(img, g.dims, planeBias, sliceBias, gain, sigma, {
      coils,
      gFactorMax,
      phaseAxis,
      seed: noise.int(1, 0x7fffffff),
    });
    return {
      data,
      report: {
        ghosts,
        ghostAmplitude,
        noiseSigma: sigma,
        biasRange: [biasLo, biasHi],
        noiseModel: 'sum-of-squares',
        coils,
        gFactorMax,
        wrapFraction,
      },
    };
  }
  const out = new Int16Array(n);
  const next = (): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
  // Interpolated (zero-filled) reconstructions have noise grains of about 2 x 2 pixels: average
  // each white sample with its left, upper and upper-left neighbours (variance kept at 1).
  const grain = acq.acquiredInPlaneMm >= 1.5 * g.spacing[0];
  const upRe = new Float32Array(nx);
  const upIm = new Float32Array(nx);
  const rowRe = new Float32Array(nx);
  const rowIm = new Float32Array(nx);
  for (let k = 0; k < nz; k++) {
    const scaleK = sliceBias[k]! * gain;
    for (let i = 0; i < nx; i++) {
      const r = next();
      upRe[i] = table[r & 0xffff]!;
      upIm[i] = table[r >>> 16]!;
    }
    for (let j = 0; j < ny; j++) {
      const offset = nx * (j + ny * k);
      const biasRow = nx * j;
      // White samples for this row (one 32-bit draw gives both components).
      for (let i = 0; i < nx; i++) {
        state ^= state << 13;
        state ^= state >>> 17;
        state ^= state << 5;
        rowRe[i] = table[state & 0xffff]!;
        rowIm[i] = table[(state >>> 16) & 0xffff]!;
      }
      let leftRe = 0;
      let leftIm = 0;
      let upLeftRe = 0;
      let upLeftIm = 0;
      for (let i = 0; i < nx; i++) {
        const wRe = rowRe[i]!;
        const wIm = rowIm[i]!;
        let n1 = wRe;
        let n2 = wIm;
        if (grain) {
          const uRe = upRe[i]!;
          const uIm = upIm[i]!;
          // At the row start the missing left neighbours are replaced by the sample itself
          // and its upper neighbour (variance stays 1).
          n1 = i
            ? 0.5 * (wRe + leftRe + uRe + upLeftRe)
            : 0.5 * (wRe + wRe + uRe + uRe) * Math.SQRT1_2;
          n2 = i
            ? 0.5 * (wIm + leftIm + uIm + upLeftIm)
            : 0.5 * (wIm + wIm + uIm + uIm) * Math.SQRT1_2;
          upLeftRe = uRe;
          upLeftIm = uIm;
          leftRe = wRe;
          leftIm = wIm;
        }
        const re = img[offset + i]! * scaleK * planeBias[biasRow + i]! + sigma * n1;
        const im = sigma * n2;
        const m = (Math.sqrt(re * re + im * im) + 0.5) | 0;
        out[offset + i] = m > MAX_STORED_VALUE ? MAX_STORED_VALUE : m;
      }
      upRe.set(rowRe);
      upIm.set(rowIm);
    }
  }
  return {
    data: out,
    report: {
      ghosts,
      ghostAmplitude,
      noiseSigma: sigma,
      biasRange: [biasLo, biasHi],
      noiseModel: 'rician',
      coils: 1,
      gFactorMax: 1,
      wrapFraction: 0,
    },
  };
}

/**
 * STYLE SHIFT noise: the magnitude of a sum-of-squares combination of `coils` channels (uniform
 * sensitivity 1/sqrt(coils)), so the background is chi-distributed with 2 x coils degrees of
 * freedom (a raised floor, unlike Rician air). Every Gaussian sample is a 4-tap moving average
 * along the row (correlated noise), and the noise is amplified by a g-factor map that peaks in
 * the middle of the phase axis, as parallel imaging does.
 */
function multiCoilNoise(
  img: Float32Array,
  dims: readonly [number, number, number],
  planeBias: Float32Array,
  sliceBias: Float32Array,
  gain: number,
  sigma: number,
  o: { coils: number; gFactorMax: number; phaseAxis: 0 | 1; seed: number },
): Int16Array {
  const [nx, ny, nz] = dims;
  const rng = new Rng(o.seed);
  const table = new Float32Array(1 << 16);
  for (let t = 0; t < table.length; t++) table[t] = rng.normal();
  let state = (rng.int(1, 0x7fffffff) | 1) >>> 0;
  const taps = SHIFT_RENDER.correlationTaps;
  const norm = 1 / Math.sqrt(taps);
  const components = 2 * o.coils;
  const white = new Float32Array(nx + taps - 1);
  // Per row: component c of voxel i at [c * nx + i].
  const noise = new Float32Array(components * nx);
  const gMap = new Float32Array(o.phaseAxis === 1 ? ny : nx);
  for (let p = 0; p < gMap.length; p++) {
    const v = gMap.length > 1 ? (2 * p) / (gMap.length - 1) - 1 : 0;
    gMap[p] = 1 + (o.gFactorMax - 1) * Math.exp(-((v / 0.45) ** 2));
  }
  const out = new Int16Array(nx * ny * nz);
  for (let k = 0; k < nz; k++) {
    const scaleK = sliceBias[k]! * gain;
    for (let j = 0; j < ny; j++) {
      for (let c = 0; c < components; c++) {
        for (let i = 0; i < white.length; i++) {
          state ^= state << 13;
          state ^= state >>> 17;
          state ^= state << 5;
          white[i] = table[state & 0xffff]!;
        }
        let run = 0;
        for (let t = 0; t < taps - 1; t++) run += white[t]!;
        const base = c * nx;
        for (let i = 0; i < nx; i++) {
          run += white[i + taps - 1]!;
          noise[base + i] = run * norm;
          run -= white[i]!;
        }
      }
      const offset = nx * (j + ny * k);
      for (let i = 0; i < nx; i++) {
        const sd = sigma * gMap[o.phaseAxis === 1 ? j : i]!;
        const re = img[offset + i]! * scaleK * planeBias[nx * j + i]! + sd * noise[i]!;
        const im = sd * noise[nx + i]!;
        let rest = 0;
        for (let c = 2; c < components; c++) {
          const z = noise[c * nx + i]!;
          rest += z * z;
        }
        const m = (Math.sqrt(re * re + im * im + sd * sd * rest) + 0.5) | 0;
        out[offset + i] = m > MAX_STORED_VALUE ? MAX_STORED_VALUE : m;
      }
    }
  }
  return out;
}

/**
 * STYLE SHIFT wrap-around: as when the phase field of view is smaller than the body, signal from
 * the `band` voxels at each end of the phase axis is added onto the other end.
 */
export function wrapAround(
  data: Float32Array,
  dims: readonly [number, number, number],
  axis: 0 | 1,
  band: number,
): void {
  const [nx, ny, nz] = dims;
  const len = axis === 1 ? ny : nx;
  if (band <= 0 || 2 * band > len) return;
  const at = (p: number, q: number, k: number): number =>
    axis === 1 ? q + nx * (p + ny * k) : p + nx * (q + ny * k);
  const across = axis === 1 ? nx : ny;
  const low = new Float32Array(band * across);
  const high = new Float32Array(band * across);
  for (let k = 0; k < nz; k++) {
    for (let p = 0; p < band; p++)
      for (let q = 0; q < across; q++) {
        low[p * across + q] = data[at(p, q, k)]!;
        high[p * across + q] = data[at(len - band + p, q, k)]!;
      }
    for (let p = 0; p < band; p++)
      for (let q = 0; q < across; q++) {
        data[at(p, q, k)]! += high[p * across + q]!;
        data[at(len - band + p, q, k)]! += low[p * across + q]!;
      }
  }
}

/**
 * Writes level(label) * (1 + amplitude * t) into the voxels of `box`, t a random lattice field in
 * [-1, 1] with cells of `cellMm`, linearly interpolated: per voxel a few reads and a lerp.
 */
function applyTexture(
  img: Float32Array,
  labels: Uint8Array,
  levels: Float32Array,
  dims: readonly [number, number, number],
  spacing: readonly [number, number, number],
  box: IndexBox,
  rng: Rng,
  amplitude: number,
  cellMm: number,
): void {
  const [nx, ny] = dims;
  const step = spacing.map((sp) => Math.max(1, cellMm / sp));
  const size = [0, 1, 2].map((a) => Math.ceil((box.hi[a]! - box.lo[a]!) / step[a]!) + 2);
  const [gx, gy, gz] = size as [number, number, number];
  const lattice = new Float32Array(gx * gy * gz);
  for (let t = 0; t < lattice.length; t++) lattice[t] = 2 * rng.next() - 1;
  const ix = new Int32Array(nx);
  const fx = new Float32Array(nx);
  for (let i = box.lo[0]; i <= box.hi[0]; i++) {
    const u = (i - box.lo[0]) / step[0]!;
    ix[i] = Math.floor(u);
    fx[i] = u - ix[i]!;
  }
  const row = new Float32Array(gx);
  for (let k = box.lo[2]; k <= box.hi[2]; k++) {
    const w = (k - box.lo[2]) / step[2]!;
    const kz = Math.floor(w);
    const fz = w - kz;
    for (let j = box.lo[1]; j <= box.hi[1]; j++) {
      const v = (j - box.lo[1]) / step[1]!;
      const jy = Math.floor(v);
      const fy = v - jy;
      const b00 = gx * (jy + gy * kz);
      const b10 = gx * (jy + 1 + gy * kz);
      const b01 = gx * (jy + gy * (kz + 1));
      const b11 = gx * (jy + 1 + gy * (kz + 1));
      for (let x = 0; x < gx; x++) {
        const a0 = lattice[b00 + x]! + fy * (lattice[b10 + x]! - lattice[b00 + x]!);
        const a1 = lattice[b01 + x]! + fy * (lattice[b11 + x]! - lattice[b01 + x]!);
        row[x] = amplitude * (a0 + fz * (a1 - a0));
      }
      const o = nx * (j + ny * k);
      for (let i = box.lo[0]; i <= box.hi[0]; i++) {
        const x = ix[i]!;
        const t = row[x]! + fx[i]! * (row[x + 1]! - row[x]!);
        img[o + i] = levels[labels[o + i]!]! * (1 + t);
      }
    }
  }
}

/** An inclusive voxel-index box [lo, hi] per axis. */
export interface IndexBox {
  readonly lo: readonly [number, number, number];
  readonly hi: readonly [number, number, number];
}

/** The box holding every non-zero label (air is 0 and stays 0 under blurring). */
export function nonZeroBox(
  labels: Uint8Array,
  dims: readonly [number, number, number],
): IndexBox | undefined {
  const [nx, ny, nz] = dims;
  const lo: [number, number, number] = [nx, ny, nz];
  const hi: [number, number, number] = [-1, -1, -1];
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      const row = nx * (j + ny * k);
      let first = 0;
      while (first < nx && labels[row + first] === 0) first++;
      if (first === nx) continue;
      let last = nx - 1;
      while (labels[row + last] === 0) last--;
      if (first < lo[0]) lo[0] = first;
      if (last > hi[0]) hi[0] = last;
      if (j < lo[1]) lo[1] = j;
      if (j > hi[1]) hi[1] = j;
      if (k < lo[2]) lo[2] = k;
      if (k > hi[2]) hi[2] = k;
    }
  }
  return hi[0] < 0 ? undefined : { lo, hi };
}

/**
 * In-place Gaussian blur along one axis (edges replicated); sigma in voxels, skipped when tiny.
 * Only the lines through `box` are worked (the data must be 0 outside it); returns the box the
 * non-zero values occupy afterwards (grown by the kernel radius along `axis`).
 */
export function blurAxis(
  data: Float32Array,
  dims: readonly [number, number, number],
  axis: 0 | 1 | 2,
  sigma: number,
  box: IndexBox = { lo: [0, 0, 0], hi: [dims[0] - 1, dims[1] - 1, dims[2] - 1] },
): IndexBox {
  if (!(sigma > 0.2)) return box;
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
  const [nx, ny] = dims;
  const n = dims[axis];
  const outLo = Math.max(0, box.lo[axis] - radius);
  const outHi = Math.min(n - 1, box.hi[axis] + radius);
  const grown: IndexBox = {
    lo: box.lo.map((v, a) => (a === axis ? outLo : v)) as [number, number, number],
    hi: box.hi.map((v, a) => (a === axis ? outHi : v)) as [number, number, number],
  };
  const len = outHi - outLo + 1;
  if (axis === 0) {
    // Each row segment into a padded copy (edges replicated), then taps outermost.
    const padded = new Float32Array(len + 2 * radius);
    const acc = new Float32Array(len);
    for (let k = box.lo[2]; k <= box.hi[2]; k++) {
      for (let j = box.lo[1]; j <= box.hi[1]; j++) {
        const o = nx * (j + ny * k);
        // Copy the row segment in one go, then replicate the row's end values into the margins.
        const from = Math.max(0, outLo - radius);
        const to = Math.min(nx - 1, outHi + radius);
        const shift = from - (outLo - radius);
        padded.set(data.subarray(o + from, o + to + 1), shift);
        for (let p = 0; p < shift; p++) padded[p] = data[o]!;
        for (let p = shift + to - from + 1; p < len + 2 * radius; p++)
          padded[p] = data[o + nx - 1]!;
        const w0 = weights[0]!;
        for (let i = 0; i < len; i++) acc[i] = w0 * padded[i]!;
        for (let t = 1; t < taps; t++) {
          const w = weights[t]!;
          for (let i = 0; i < len; i++) acc[i]! += w * padded[i + t]!;
        }
        data.set(acc, o + outLo);
      }
    }
    return grown;
  }
  // Along j or k: blur row segments (contiguous in i) from a copy of the lines involved.
  const i0 = box.lo[0];
  const width = box.hi[0] - i0 + 1;
  const stride = axis === 1 ? nx : nx * ny;
  const outerStride = axis === 1 ? nx * ny : nx;
  const outerLo = axis === 1 ? box.lo[2] : box.lo[1];
  const outerHi = axis === 1 ? box.hi[2] : box.hi[1];
  const readLo = Math.max(0, outLo - radius);
  const readHi = Math.min(n - 1, outHi + radius);
  const copy = new Float32Array((readHi - readLo + 1) * width);
  const acc = new Float32Array(width);
  for (let o = outerLo; o <= outerHi; o++) {
    const base = o * outerStride + i0;
    for (let q = readLo; q <= readHi; q++) {
      copy.set(data.subarray(base + q * stride, base + q * stride + width), (q - readLo) * width);
    }
    for (let q = outLo; q <= outHi; q++) {
      acc.fill(0);
      for (let t = -radius; t <= radius; t++) {
        const src = q + t < 0 ? 0 : q + t >= n ? n - 1 : q + t;
        const from = (src - readLo) * width;
        const w = weights[t + radius]!;
        for (let i = 0; i < width; i++) acc[i]! += w * copy[from + i]!;
      }
      data.set(acc, base + q * stride);
    }
  }
  return grown;
}

/**
 * Adds `count` faint copies of the anatomy shifted (with wrap-around) along the phase axis.
 * Drawn from the tissue classes, not the blurred image: a ghost is smeared anyway, and this
 * needs no copy of the volume.
 */
function addGhosts(
  data: Float32Array,
  labels: Uint8Array,
  levels: Float32Array,
  dims: readonly [number, number, number],
  axis: 0 | 1,
  shift: number,
  count: number,
  amplitude: number,
): void {
  const [nx, ny, nz] = dims;
  for (let g = 1; g <= count; g++) {
    const scaled = levels.map((v) => (v * amplitude) / g);
    const sh = shift * g;
    for (let k = 0; k < nz; k++) {
      for (let j = 0; j < ny; j++) {
        const row = nx * (j + ny * k);
        if (axis === 1) {
          const srcRow = nx * (((j + sh) % ny) + ny * k);
          for (let i = 0; i < nx; i++) data[row + i]! += scaled[labels[srcRow + i]!]!;
        } else {
          for (let i = 0; i < nx; i++) data[row + i]! += scaled[labels[row + ((i + sh) % nx)]!]!;
        }
      }
    }
  }
}
