/**
 * Paints a sampled chest (anatomy.ts) into a tissue-class grid, back to front: torso, fat,
 * chambers, vessels, pulmonary veins. The LA itself (cavity, wall, scar) is painted afterwards
 * by generate.ts, which needs distance maps for it.
 */
import type { Geometry, Vec3 } from '../volume.js';
import type { HeartModel, TubeSpec } from './anatomy.js';
import { namedNoise } from './noise.js';
import { classSet, paint, paintBy } from './raster.js';
import { type EllipsoidSpec, type Shape, balls, ellipsoid, tube } from './shapes.js';
import { Tissue } from './tissue.js';

const grow = (e: EllipsoidSpec, mm: number): EllipsoidSpec => ({
  ...e,
  radii: [e.radii[0] + mm, e.radii[1] + mm, e.radii[2] + mm],
});
/**
 * A tube as short pieces (at most PIECE_MM long), each painted over its own small box: a long
 * vertical vessel's box on an oblique grid would otherwise cover much of each slice.
 */
const PIECE_MM = 25;
function segments(t: TubeSpec, mm: number): Shape[] {
  const pieces: Shape[] = [];
  for (let s = 0; s + 1 < t.points.length; s++) {
    const a = t.points[s]!;
    const b = t.points[s + 1]!;
    const ra = t.radii[s]! + mm;
    const rb = t.radii[s + 1]! + mm;
    const length = Math.hypot(b[0] - a[0], b[1] - a[1], b[2] - a[2]);
    // Thick tubes get longer pieces (their boxes would overlap heavily otherwise).
    const count = Math.max(1, Math.ceil(length / Math.max(PIECE_MM, 1.5 * Math.max(ra, rb))));
    const at = (f: number): [number, number, number] => [
      a[0] + f * (b[0] - a[0]),
      a[1] + f * (b[1] - a[1]),
      a[2] + f * (b[2] - a[2]),
    ];
    for (let c = 0; c < count; c++) {
      const f0 = c / count;
      const f1 = (c + 1) / count;
      pieces.push(tube([at(f0), at(f1)], [ra + f0 * (rb - ra), ra + f1 * (rb - ra)]));
    }
  }
  return pieces;
}
const tubeOf = (t: TubeSpec): Shape[] => segments(t, 0);
const grownTube = (t: TubeSpec, mm: number): Shape[] => segments(t, mm);

type Paintable = Shape | readonly Shape[];
const parts = (p: Paintable): readonly Shape[] =>
  'inside' in p ? [p as Shape] : (p as readonly Shape[]);
function draw(
  g: Geometry,
  labels: Uint8Array,
  p: Paintable,
  tissue: number,
  keep?: Uint8Array,
): void {
  for (const shape of parts(p)) paint(g, labels, shape, tissue, keep);
}
function drawBy(
  g: Geometry,
  labels: Uint8Array,
  p: Paintable,
  classify: (x: number, y: number, z: number) => number,
): void {
  for (const shape of parts(p)) paintBy(g, labels, shape, classify);
}

/** Torso, lungs, spine, liver, stomach, arms: one pass over the whole grid with inline tests. */
export function paintTorso(g: Geometry, labels: Uint8Array, heart: HeartModel): void {
  const t = heart.torso;
  const [cx, cy] = t.centre;
  const [A, B] = t.semiAxes;
  const fA = A - t.subcutaneousFatMm;
  const fB = B - t.subcutaneousFatMm;
  const mA = fA - t.chestWallMm;
  const mB = fB - t.chestWallMm;
  const [sx, sy] = t.spine.centre;
  const sr = t.spine.radius;
  const canalY = sy + sr + 9;
  const lungs = t.lungs.map(
    (l) => [l.centre[0], l.centre[1], 1 / l.semiAxes[0], 1 / l.semiAxes[1]] as const,
  );
  const liver = t.liver;
  const stomach = t.stomach;
  const armA = 38;
  const armB = 46;
  const armOffset = A + armA + 12;
  const inv2 = (v: number): number => 1 / (v * v);
  const liverInv = [inv2(liver.radii[0]), inv2(liver.radii[1]), inv2(liver.radii[2])];
  const stomachInv = [inv2(stomach.radii[0]), inv2(stomach.radii[1]), inv2(stomach.radii[2])];
  // One monomorphic loop over the whole grid (no per-voxel callback): this pass touches every voxel.
  const [nx, ny, nz] = g.dims;
  const [di, dj, dk] = g.direction;
  const [si, sj, sk] = g.spacing;
  // Only the stretches of each row inside the body (or an arm) are classified; the rest is air.
  // Along a row the position is b + i * step, so each ellipse gives an interval of i (a quadratic).
  const ellipses: [number, number, number, number][] = [[cx, cy, A, B]];
  if (t.arms)
    ellipses.push([cx - armOffset, cy - 10, armA, armB], [cx + armOffset, cy - 10, armA, armB]);
  const sx0 = si * di[0];
  const sy0 = si * di[1];
  const rowInterval = (
    bx: number,
    by: number,
    ex: number,
    ey: number,
    ea: number,
    eb: number,
  ): [number, number] => {
    const qa = (sx0 * sx0) / (ea * ea) + (sy0 * sy0) / (eb * eb);
    const dx0 = bx - ex;
    const dy0 = by - ey;
    const qb = 2 * ((dx0 * sx0) / (ea * ea) + (dy0 * sy0) / (eb * eb));
    const qc = (dx0 * dx0) / (ea * ea) + (dy0 * dy0) / (eb * eb) - 1;
    const disc = qb * qb - 4 * qa * qc;
    if (!(qa > 0) || disc <= 0) return [0, -1];
    const root = Math.sqrt(disc);
    return [
      Math.max(0, Math.floor((-qb - root) / (2 * qa))),
      Math.min(nx - 1, Math.ceil((-qb + root) / (2 * qa))),
    ];
  };

  if (di[2] === 0 && dj[2] === 0 && dk[0] === 0 && dk[1] === 0) {
    // Axial stack: x and y do not change with the slice, so classify one plane and redo per
    // slice only what depends on z (vertebral discs; liver and stomach where the slice cuts them).
    const plane = nx * ny;
    const base = new Uint8Array(plane);
    const kind = new Uint8Array(plane); // 0 fixed, 1 vertebral body, 2 below-diaphragm candidate
    const px = new Float64Array(plane);
    const py = new Float64Array(plane);
    const z0 = g.origin[2];
    for (let j = 0; j < ny; j++) {
      const bx = g.origin[0] + j * sj * dj[0];
      const by = g.origin[1] + j * sj * dj[1];
      for (const [ex, ey, ea, eb] of ellipses) {
        const [i0, i1] = rowInterval(bx, by, ex, ey, ea, eb);
        for (let i = i0; i <= i1; i++) {
          const p = i + nx * j;
          const x = bx + i * sx0;
          const y = by + i * sy0;
          px[p] = x;
          py[p] = y;
          kind[p] = zKind(x, y);
          base[p] = kind[p] === 2 ? interiorClass(x, y) : torsoClass(x, y, z0);
        }
      }
    }
    const dependent: number[] = [];
    for (let p = 0; p < plane; p++) if (kind[p]) dependent.push(p);
    // A slice misses an organ when it lies (safely) beyond the ellipsoid's z extent.
    const cuts = (c: Vec3, r: Vec3, z: number): boolean =>
      Math.abs(z - c[2]) <= r[2] * 1.001 + 1e-6;
    for (let k = 0; k < nz; k++) {
      const z = g.origin[2] + k * sk * dk[2];
      const offset = k * plane;
      labels.set(base, offset);
      const organs = cuts(liver.centre, liver.radii, z) || cuts(stomach.centre, stomach.radii, z);
      for (const p of dependent) {
        if (kind[p] === 1 || organs) labels[offset + p] = torsoClass(px[p]!, py[p]!, z);
      }
    }
    return;
  }

  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      const bx = g.origin[0] + j * sj * dj[0] + k * sk * dk[0];
      const by = g.origin[1] + j * sj * dj[1] + k * sk * dk[1];
      const bz = g.origin[2] + j * sj * dj[2] + k * sk * dk[2];
      const row = nx * (j + ny * k);
      labels.fill(Tissue.Air, row, row + nx);
      for (const [ex, ey, ea, eb] of ellipses) {
        const [i0, i1] = rowInterval(bx, by, ex, ey, ea, eb);
        for (let i = i0; i <= i1; i++) {
          labels[row + i] = torsoClass(bx + i * sx0, by + i * sy0, bz + i * si * di[2]);
        }
      }
    }
  }

  /** 1 inside a vertebral body, 2 where liver or stomach may reach, else 0 (z-independent). */
  function zKind(x: number, y: number): number {
    const dx = x - cx;
    const dy = y - cy;
    if ((dx * dx) / (A * A) + (dy * dy) / (B * B) >= 1) return 0;
    if ((dx * dx) / (mA * mA) + (dy * dy) / (mB * mB) >= 1) return 0;
    const vx = x - sx;
    const vy = y - sy;
    if (vx * vx + vy * vy < sr * sr) return 1;
    const cyy = y - canalY;
    if (vx * vx + cyy * cyy < 49) return 0;
    if (Math.abs(vx) < 5 && cyy > 0 && cyy < 28) return 0;
    const ppx = Math.abs(vx) - 30;
    const ppy = y - (sy + sr + 14);
    if ((ppx * ppx) / (26 * 26) + (ppy * ppy) / (32 * 32) < 1) return 0;
    if (Math.abs(vx) < sr + 6 && y > sy - sr * 0.3 && y < sy + sr) return 0;
    return 2;
  }

  /** The chest interior above the diaphragm: lung or mediastinal soft tissue. */
  function interiorClass(x: number, y: number): number {
    for (const [lcx, lcy, iax, iay] of lungs) {
      const ux = (x - lcx) * iax;
      const uy = (y - lcy) * iay;
      if (ux * ux + uy * uy < 1) return Tissue.Lung;
    }
    return Tissue.SoftTissue;
  }

  function torsoClass(x: number, y: number, z: number): number {
    const dx = x - cx;
    const dy = y - cy;
    const outer = (dx * dx) / (A * A) + (dy * dy) / (B * B);
    if (outer >= 1) {
      if (t.arms) {
        const ax = Math.abs(dx) - armOffset;
        const e = (ax * ax) / (armA * armA) + ((dy + 10) * (dy + 10)) / (armB * armB);
        if (e < 1) {
          const bone = ax * ax + (dy + 10) * (dy + 10) < 100;
          return bone ? Tissue.Marrow : e > 0.6 ? Tissue.Fat : Tissue.Muscle;
        }
      }
      return Tissue.Air;
    }
    if ((dx * dx) / (fA * fA) + (dy * dy) / (fB * fB) >= 1) return Tissue.Fat;
    if ((dx * dx) / (mA * mA) + (dy * dy) / (mB * mB) >= 1) return Tissue.Muscle;
    const vx = x - sx;
    const vy = y - sy;
    if (vx * vx + vy * vy < sr * sr) {
      const phase = (((z - t.discPhaseMm) % t.discPeriodMm) + t.discPeriodMm) % t.discPeriodMm;
      return phase < 6 ? Tissue.SoftTissue : Tissue.Marrow;
    }
    const cyy = y - canalY;
    if (vx * vx + cyy * cyy < 49) return Tissue.Csf;
    // Spinous process behind the canal, paraspinal muscles either side of it.
    if (Math.abs(vx) < 5 && cyy > 0 && cyy < 28) return Tissue.Marrow;
    const px = Math.abs(vx) - 30;
    const py = y - (sy + sr + 14);
    if ((px * px) / (26 * 26) + (py * py) / (32 * 32) < 1) return Tissue.Muscle;
    if (Math.abs(vx) < sr + 6 && y > sy - sr * 0.3 && y < sy + sr) return Tissue.SoftTissue;
    const lx = x - liver.centre[0];
    const ly = y - liver.centre[1];
    const lz = z - liver.centre[2];
    if (lx * lx * liverInv[0]! + ly * ly * liverInv[1]! + lz * lz * liverInv[2]! < 1)
      return Tissue.Liver;
    const gx = x - stomach.centre[0];
    const gy = y - stomach.centre[1];
    const gz = z - stomach.centre[2];
    if (gx * gx * stomachInv[0]! + gy * gy * stomachInv[1]! + gz * gz * stomachInv[2]! < 1)
      return Tissue.Stomach;
    for (const [lcx, lcy, iax, iay] of lungs) {
      const ux = (x - lcx) * iax;
      const uy = (y - lcy) * iay;
      if (ux * ux + uy * uy < 1) return Tissue.Lung;
    }
    return Tissue.SoftTissue;
  }
}

/** Everything of the heart and mediastinum except the LA cavity, wall and scar. */
export function paintHeart(g: Geometry, labels: Uint8Array, heart: HeartModel, seed: number): void {
  // Fat around the great vessels and inside the pericardium: bright on LGE unless suppressed.
  // Smooth, coarse field: fat gathers in broad pads and grooves, not in speckles.
  const fatField = namedNoise(seed, 91, 16, 1);
  const bias = heart.epicardialFatBias;
  const fatOrSoft = (x: number, y: number, z: number): number =>
    fatField(x, y, z) > bias ? Tissue.EpicardialFat : Tissue.SoftTissue;
  // Mediastinum: fat and soft tissue packed around the great vessels, oesophagus and atria.
  const m = heart.periVascularFatMm;
  const mediastinum = [
    ...grownTube(heart.ascendingAorta, m + 4),
    ...heart.pulmonaryArteries.flatMap((pa) => grownTube(pa, m)),
    ...grownTube(heart.svc, m),
    ...grownTube(heart.oesophagus, m * 0.6),
    ...grownTube(heart.descendingAorta, m * 0.5),
    ellipsoid(grow({ ...heart.laBody, clip: undefined }, 4 + m)),
  ];
  // Members painted one by one with the same per-voxel rule: the union's box would be huge.
  const mediastinalTissue = (x: number, y: number, z: number): number =>
    fatField(x + 50, y, z) > bias + 0.15 ? Tissue.Fat : Tissue.SoftTissue;
  for (const part of mediastinum) drawBy(g, labels, part, mediastinalTissue);
  const envelope = [
    ellipsoid(grow(heart.lvMyocardium, heart.epicardialFatMm)),
    ellipsoid(grow(heart.rvMyocardium, heart.epicardialFatMm)),
    ellipsoid(grow(heart.raWall, heart.epicardialFatMm * 0.7)),
    ellipsoid(grow({ ...heart.laBody, clip: undefined }, heart.epicardialFatMm * 0.6)),
  ];
  for (const part of envelope) drawBy(g, labels, part, fatOrSoft);

  draw(g, labels, tubeOf(heart.oesophagus), Tissue.Oesophagus);
  draw(g, labels, grownTube(heart.descendingAorta, 1.5), Tissue.SoftTissue);
  draw(g, labels, tubeOf(heart.descendingAorta), Tissue.BloodAorta);

  draw(g, labels, ellipsoid(heart.rvMyocardium), Tissue.Myocardium);
  draw(g, labels, ellipsoid(heart.rvBlood), Tissue.BloodRight);
  draw(g, labels, ellipsoid(heart.raWall), Tissue.Myocardium);
  draw(g, labels, ellipsoid(heart.raBlood), Tissue.BloodRight);
  draw(g, labels, tubeOf(heart.svc), Tissue.BloodRight);
  draw(g, labels, tubeOf(heart.ivc), Tissue.BloodRight);

  const lvMyo = ellipsoid(heart.lvMyocardium);
  draw(g, labels, lvMyo, Tissue.Myocardium);
  if (heart.infarct) {
    // Subendocardial-to-transmural LV enhancement: bright myocardium that is not LA scar.
    const inf = heart.infarct;
    const depthMm = (heart.lvMyocardium.radii[1] - heart.lvBlood.radii[1]) * inf.depth;
    const region = ellipsoid(grow(heart.lvBlood, depthMm));
    const blob = balls([inf.centre], [inf.radiusMm]);
    const onlyMyocardium = new Uint8Array(256).fill(1);
    onlyMyocardium[Tissue.Myocardium] = 0;
    draw(
      g,
      labels,
      { box: blob.box, inside: (x, y, z) => blob.inside(x, y, z) && region.inside(x, y, z) },
      Tissue.EnhancedMyocardium,
      onlyMyocardium,
    );
  }
  draw(g, labels, ellipsoid(heart.lvBlood), Tissue.BloodLv);
  const notLvBlood = new Uint8Array(256).fill(1);
  notLvBlood[Tissue.BloodLv] = 0;
  for (const leaflet of heart.mitralLeaflets)
    draw(g, labels, tubeOf(leaflet), Tissue.Myocardium, notLvBlood);

  // The aortic root starts inside the LV outflow tract: no wall drawn across LV blood there.
  const lvBloodOnly = classSet([Tissue.BloodLv]);
  draw(g, labels, grownTube(heart.ascendingAorta, 1.5), Tissue.SoftTissue, lvBloodOnly);
  draw(g, labels, tubeOf(heart.ascendingAorta), Tissue.BloodAorta, lvBloodOnly);
  for (const pa of heart.pulmonaryArteries) draw(g, labels, tubeOf(pa), Tissue.BloodPa);

  // Atrioventricular groove: fat around the coronary sinus, right against the LA wall.
  draw(
    g,
    labels,
    grownTube(heart.coronarySinus, 2 + heart.epicardialFatMm * 0.4),
    Tissue.EpicardialFat,
  );
  draw(g, labels, tubeOf(heart.coronarySinus), Tissue.CoronarySinus);
  if (heart.fatPads.centres.length > 0)
    draw(g, labels, balls(heart.fatPads.centres, heart.fatPads.radii), Tissue.EpicardialFat);

  // Pulmonary veins beyond the LA: a thin dark wall around bright blood, into the lungs.
  // A vein passing a ventricle or great artery goes behind it, never through it.
  const chambers = classSet([
    Tissue.BloodLv,
    Tissue.BloodRight,
    Tissue.BloodAorta,
    Tissue.BloodPa,
    Tissue.Myocardium,
    Tissue.EnhancedMyocardium,
  ]);
  for (const v of heart.veins) {
    draw(g, labels, grownTube(v.trunk, heart.wallMm), Tissue.LaWall, chambers);
    draw(g, labels, grownTube(v.branch, heart.wallMm * 0.7), Tissue.LaWall, chambers);
  }
  for (const v of heart.veins) {
    draw(g, labels, tubeOf(v.trunk), Tissue.BloodLa, chambers);
    draw(g, labels, tubeOf(v.branch), Tissue.BloodLa, chambers);
  }
  // Lung vessels: branching trees from the hila, drawn only over lung.
  const lungOnly = new Uint8Array(256).fill(1);
  lungOnly[Tissue.Lung] = 0;
  for (const v of heart.lungVessels) draw(g, labels, tubeOf(v), Tissue.LungVessel, lungOnly);
}
