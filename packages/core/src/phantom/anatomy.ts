/**
 * A random chest in millimetres (DICOM LPS: +x patient left, +y posterior, +z superior): the left
 * atrium with its veins and appendage, the mitral plane with the left ventricle below, the right
 * heart, great vessels, coronary sinus, oesophagus, fat, and the torso around them. Only
 * parameters here; painting them onto a grid happens in paint.ts.
 */
import type { Vec3 } from '../volume.js';
import { type PhantomStyle, rotateAbout } from './acquisition.js';
import type { Rng } from './random.js';
import {
  DEFORM_TERMS,
  type EllipsoidSpec,
  type Frame,
  add,
  dirToWorld,
  dot,
  normalize,
  scale,
  sub,
  surfaceDistance,
  toWorld,
} from './shapes.js';

export type VeinName = 'LSPV' | 'LIPV' | 'RSPV' | 'RIPV' | 'RMPV' | 'LCPV';

export interface TubeSpec {
  readonly points: readonly Vec3[];
  readonly radii: readonly number[];
}

export interface PulmonaryVein {
  readonly name: VeinName;
  /** Whole vein as drawn in the image: antrum, ostium, trunk, then a branch into the lung. */
  readonly trunk: TubeSpec;
  readonly branch: TubeSpec;
  /** The part inside the LA label (the ostial stub, cut `labelCutMm` beyond the ostium). */
  readonly labelled: TubeSpec;
  readonly ostium: Vec3;
  readonly direction: Vec3;
  readonly ostialRadiusMm: number;
  readonly labelCutMm: number;
}

export interface Extent {
  readonly min: Vec3;
  readonly max: Vec3;
}

export interface TorsoSpec {
  /** Body cross-section: an elliptic cylinder along z. */
  readonly centre: readonly [number, number];
  readonly semiAxes: readonly [number, number];
  readonly subcutaneousFatMm: number;
  readonly chestWallMm: number;
  readonly spine: { readonly centre: readonly [number, number]; readonly radius: number };
  /** Lungs: ellipses (centre x, y, semi-axes) in the axial plane. */
  readonly lungs: readonly {
    centre: readonly [number, number];
    semiAxes: readonly [number, number];
  }[];
  /** Liver (right) and stomach (left) below the diaphragm: ellipsoids. */
  readonly liver: { readonly centre: Vec3; readonly radii: Vec3 };
  readonly stomach: { readonly centre: Vec3; readonly radii: Vec3 };
  readonly arms: boolean;
  /** z (mm) of the vertebral discs' period and phase. */
  readonly discPeriodMm: number;
  readonly discPhaseMm: number;
}

/** Where ablation left scar: thin lines, the mixed default, or large confluent areas. */
export type ScarPattern = 'lines' | 'mixed' | 'confluent';

/** Randomised ranges of the anatomy draws (training/README.md, "Domain randomisation"). */
export const ANATOMY_RANGES = {
  /** Target LA label volume (body + appendage + ostial stubs), mL: small, typical, enlarged. */
  laVolumeMl: [45, 180],
  leftCommonOstiumChance: 0.15,
  rightMiddleVeinChance: 0.2,
  appendageLobes: [5, 10],
  fatPads: [0, 8],
  scarPatternChances: { lines: 0.3, mixed: 0.45, confluent: 0.25 },
} as const;

export interface HeartModel {
  readonly laCentre: Vec3;
  /**
   * The label volume the LA body was sized for (mL); the rasterised label lands near it. Null in
   * the classic style, which draws the radii directly.
   */
  readonly targetLaVolumeMl: number | null;
  /** Always 'mixed' in the classic style. */
  readonly scarPattern: ScarPattern;
  readonly frame: Frame;
  readonly laBody: EllipsoidSpec;
  readonly laExtent: Extent;
  readonly mitral: {
    readonly point: Vec3;
    readonly normal: Vec3;
    readonly annulusRadiusMm: number;
  };
  readonly veins: readonly PulmonaryVein[];
  readonly appendage: { readonly centres: readonly Vec3[]; readonly radii: readonly number[] };
  readonly wallMm: number;
  readonly lvBlood: EllipsoidSpec;
  readonly lvMyocardium: EllipsoidSpec;
  readonly infarct:
    { readonly centre: Vec3; readonly radiusMm: number; readonly depth: number } | undefined;
  readonly rvBlood: EllipsoidSpec;
  readonly rvMyocardium: EllipsoidSpec;
  readonly raBlood: EllipsoidSpec;
  readonly raWall: EllipsoidSpec;
  readonly ascendingAorta: TubeSpec;
  readonly descendingAorta: TubeSpec;
  readonly pulmonaryArteries: readonly TubeSpec[];
  readonly svc: TubeSpec;
  readonly ivc: TubeSpec;
  readonly coronarySinus: TubeSpec;
  /** Mitral leaflets (open, diastole): thin dark strands from the annulus into the LV. */
  readonly mitralLeaflets: readonly TubeSpec[];
  readonly oesophagus: TubeSpec;
  /** Branching vessel trees in the lungs, from the pulmonary arteries' and veins' ends. */
  readonly lungVessels: readonly TubeSpec[];
  readonly fatPads: { readonly centres: readonly Vec3[]; readonly radii: readonly number[] };
  readonly epicardialFatMm: number;
  readonly epicardialFatBias: number;
  readonly periVascularFatMm: number;
  readonly torso: TorsoSpec;
}

const VEIN_DIRECTIONS: Record<VeinName, Vec3> = {
  LSPV: [0.85, 0.35, 0.45],
  LIPV: [0.85, 0.4, -0.3],
  RSPV: [-0.85, 0.3, 0.45],
  RIPV: [-0.85, 0.35, -0.3],
  // A right middle vein: a common variant (about one person in five).
  RMPV: [-0.95, 0.25, 0.05],
  // A left common ostium: LSPV and LIPV joined in one wide trunk before the atrium.
  LCPV: [0.9, 0.4, 0.05],
};

/**
 * One heart. 'classic' takes exactly the draws of the generator before domain randomisation (the
 * product's seeded test phantoms depend on them); any other style takes the randomised anatomy
 * (ANATOMY_RANGES), which the held-out 'shift' style shares.
 */
export function sampleHeart(rng: Rng, style: PhantomStyle = 'classic'): HeartModel {
  const classic = style === 'classic';
  // Where the LA sits in scanner coordinates (table position varies), and how the heart is turned.
  const L: Vec3 = [rng.uniform(-20, 30), rng.uniform(-30, 40), rng.uniform(-60, 60)];
  const frame = randomFrame(rng, 0.3, 0.25, 0.25);
  const W = (local: Vec3): Vec3 => toWorld(frame, L, local);
  const D = (local: Vec3): Vec3 => normalize(dirToWorld(frame, local));
  const jitter = (v: Vec3, sd: number): Vec3 =>
    normalize([v[0] + rng.normal() * sd, v[1] + rng.normal() * sd, v[2] + rng.normal() * sd]);

  // --- LA body: an ellipsoid deformed by low-order harmonics (never a sphere, never centred).
  const A = ANATOMY_RANGES;
  let targetLaVolumeMl: number | null = null;
  let cutFraction = 0;
  let a: number;
  let b: number;
  let c: number;
  if (classic) {
    // Normal to enlarged (long-standing AF) atria: about 50-170 mL with veins and appendage.
    const enlarged = rng.chance(0.3) ? rng.uniform(1.05, 1.2) : 1;
    a = rng.uniform(26, 38) * enlarged;
    b = rng.uniform(17, 27) * enlarged;
    c = rng.uniform(22, 30) * enlarged;
  } else {
    // Scaled to a drawn label volume: small, typical and enlarged (long-standing AF) atria.
    const sizeRoll = rng.next();
    const target =
      sizeRoll < 0.1
        ? rng.uniform(A.laVolumeMl[0], 55)
        : sizeRoll < 0.75
          ? rng.uniform(55, 130)
          : rng.uniform(130, A.laVolumeMl[1]);
    const a0 = rng.uniform(26, 38);
    const b0 = rng.uniform(17, 27);
    const c0 = rng.uniform(22, 30);
    cutFraction = rng.uniform(0.55, 0.7);
    // The mitral cut removes a cap (sphere approximation); appendage and stubs add about 14 mL.
    const kept = 1 - ((1 - cutFraction) ** 2 * (2 + cutFraction)) / 4;
    const bodyMl = Math.max(25, target - 14);
    const sizeScale = Math.cbrt((bodyMl * 1000) / ((4 / 3) * Math.PI * a0 * b0 * c0 * kept));
    a = a0 * sizeScale;
    b = b0 * sizeScale;
    c = c0 * sizeScale;
    targetLaVolumeMl = target;
  }
  const deform = new Float64Array(DEFORM_TERMS);
  const sd = [
    0.03, 0.03, 0.03, 0.06, 0.06, 0.06, 0.06, 0.05, 0.035, 0.035, 0.035, 0.035, 0.03, 0.03, 0.03,
    0.05,
  ];
  for (let t = 0; t < DEFORM_TERMS; t++) deform[t] = clampAbs(rng.normal() * sd[t]!, 2.2 * sd[t]!);
  const bodyNoClip: EllipsoidSpec = { centre: L, frame, radii: [a, b, c], deform };
  const surface = (u: Vec3): Vec3 => add(L, scale(u, surfaceDistance(bodyNoClip, u)));

  // --- Mitral plane: cuts the anterior-inferior cap of the LA; the LV lies beyond it.
  const mitralDir = D(jitter([0.3, -0.55, -0.75], 0.1));
  const mitralDepth = surfaceDistance(bodyNoClip, mitralDir);
  // Classic draws the cut here, after the deformation (its old place in the random stream).
  if (classic) cutFraction = rng.uniform(0.55, 0.7);
  const M = add(L, scale(mitralDir, mitralDepth * cutFraction));
  const n = mitralDir;
  const annulusRadiusMm = mitralDepth * Math.sqrt(1 - cutFraction * cutFraction) * 0.95;
  const laBody: EllipsoidSpec = { ...bodyNoClip, clip: { point: M, normal: n } };
  const laExtent = ellipsoidExtent(bodyNoClip);

  // --- Pulmonary veins.
  const names: VeinName[] =
    !classic && rng.chance(A.leftCommonOstiumChance)
      ? ['LCPV', 'RSPV', 'RIPV']
      : ['LSPV', 'LIPV', 'RSPV', 'RIPV'];
  if (rng.chance(A.rightMiddleVeinChance)) names.push('RMPV');
  const veins: PulmonaryVein[] = names.map((name) => {
    const u = D(jitter(VEIN_DIRECTIONS[name], 0.12));
    const superior = name.endsWith('SPV');
    const common = name === 'LCPV';
    const r =
      name === 'RMPV'
        ? rng.uniform(3.5, 5.5)
        : common
          ? rng.uniform(9, 12.5)
          : superior
            ? rng.uniform(6.5, 10)
            : rng.uniform(5.5, 9);
    const s = surfaceDistance(bodyNoClip, u);
    const start = add(L, scale(u, s - 7));
    const ostium = add(L, scale(u, s));
    const antrumLen = rng.uniform(9, 15);
    const p1 = add(ostium, scale(u, antrumLen));
    // A common trunk divides into a superior (trunk) and an inferior (branch) vein.
    const v2 = jitter(add(u, D([0, 0.2, superior || common ? 0.15 : -0.15])), 0.2);
    const p2 = add(p1, scale(v2, rng.uniform(12, 22)));
    const side = normalize(sub(jitter(u, 1), scale(v2, dot(jitter(u, 1), v2))));
    const p3 = add(p2, scale(normalize(add(v2, scale(side, 0.5))), rng.uniform(15, 30)));
    const p4 = common
      ? add(p1, scale(D(jitter([0.8, 0.4, -0.6], 0.15)), rng.uniform(20, 32)))
      : add(p2, scale(normalize(sub(v2, scale(side, 0.6))), rng.uniform(12, 25)));
    const trunk: TubeSpec = common
      ? {
          points: [start, ostium, p1, p2, p3],
          radii: [r * 1.3, r * 1.1, r * 0.8, r * 0.6, r * 0.35],
        }
      : { points: [start, ostium, p1, p2, p3], radii: [r * 1.35, r * 1.12, r, r * 0.8, r * 0.45] };
    const branch: TubeSpec = common
      ? { points: [p1, p4], radii: [r * 0.65, r * 0.35] }
      : { points: [p2, p4], radii: [r * 0.65, r * 0.35] };
    const labelCutMm = Math.min(antrumLen, rng.uniform(5, 13));
    const cut = add(ostium, scale(u, labelCutMm));
    const rStart = trunk.radii[0]!;
    const r1 = trunk.radii[1]!;
    const rCut = r1 + (trunk.radii[2]! - r1) * (labelCutMm / antrumLen);
    const labelled: TubeSpec = { points: [start, ostium, cut], radii: [rStart, r1, rCut] };
    return {
      name,
      trunk,
      branch,
      labelled,
      ostium,
      direction: u,
      ostialRadiusMm: trunk.radii[1]!,
      labelCutMm,
    };
  });

  // --- LA appendage: a lobulated, hooked finger off the left anterior-superior LA.
  const laaDir = D(jitter([0.55, -0.75, 0.3], 0.15));
  const hookDir = D(jitter([0.3, -0.5, -0.8], 0.2));
  const laaCentres: Vec3[] = [];
  const laaRadii: number[] = [];
  let p = add(L, scale(laaDir, surfaceDistance(bodyNoClip, laaDir) - 3));
  let dir = laaDir;
  const lobes = classic ? rng.int(6, 9) : rng.int(A.appendageLobes[0], A.appendageLobes[1]);
  const r0 = classic ? rng.uniform(7.5, 11.5) : rng.uniform(6.5, 12.5);
  for (let s = 0; s < lobes; s++) {
    const f = s / (lobes - 1);
    laaCentres.push(add(p, [rng.normal() * 1.2, rng.normal() * 1.2, rng.normal() * 1.2]));
    laaRadii.push(Math.max(2.5, r0 * (1 - 0.6 * f) + rng.normal() * 1.0));
    dir = normalize(add(scale(dir, 1 - 0.25), scale(hookDir, 0.25)));
    p = add(p, scale(dir, rng.uniform(3.5, 5)));
  }

  const wallMm = rng.uniform(2, 3);

  // --- Left ventricle below the mitral plane.
  const d = normalize(add(n, D([0.15, -0.1, -0.1])));
  const lvHalf = rng.uniform(38, 50);
  const lvRadius = clamp(annulusRadiusMm / 0.76, 18, 30) * rng.uniform(0.95, 1.1);
  const lvMyoMm = rng.uniform(7, 12);
  const lvCentre = add(M, scale(d, 0.65 * lvHalf));
  const lvFrame = frameFromAxis(d, D([0, 0, 1]));
  const lvSide = { point: M, normal: scale(n, -1) };
  const lvBlood: EllipsoidSpec = {
    centre: lvCentre,
    frame: lvFrame,
    radii: [lvHalf, lvRadius, lvRadius * rng.uniform(0.85, 1.05)],
    clip: lvSide,
  };
  const lvMyocardium: EllipsoidSpec = {
    centre: lvCentre,
    frame: lvFrame,
    radii: [lvHalf + lvMyoMm, lvBlood.radii[1] + lvMyoMm, lvBlood.radii[2] + lvMyoMm],
    clip: lvSide,
  };
  const infarct = rng.chance(0.3)
    ? {
        centre: add(
          add(lvCentre, scale(perpendicular(rng, d), lvRadius)),
          scale(d, rng.uniform(-0.5, 0.6) * lvHalf),
        ),
        radiusMm: rng.uniform(10, 22),
        depth: rng.uniform(0.3, 1),
      }
    : undefined;

  // --- Right ventricle: anterior and to the right of the LV.
  const hint = D([-0.7, -0.7, 0.05]);
  const w = normalize(sub(hint, scale(d, dot(hint, d))));
  const rvRadius = rng.uniform(12, 18);
  const rvCentre = add(
    add(lvCentre, scale(w, lvRadius + lvMyoMm + rvRadius * 0.5)),
    scale(d, -0.1 * lvHalf),
  );
  const rvFrame: Frame = [d, w, cross(d, w)];
  const rvBlood: EllipsoidSpec = {
    centre: rvCentre,
    frame: rvFrame,
    radii: [0.85 * lvHalf, rvRadius, lvRadius + 8],
  };
  const rvMyocardium: EllipsoidSpec = {
    ...rvBlood,
    radii: [0.85 * lvHalf + 3, rvRadius + 3.5, lvRadius + 11],
  };

  // --- Right atrium beside the LA (interatrial septum between).
  const raA = rng.uniform(20, 28);
  const raBlood: EllipsoidSpec = {
    centre: W([-(a + 5 + raA * 0.85), rng.uniform(-18, -6), rng.uniform(-14, -4)]),
    frame,
    radii: [raA, rng.uniform(18, 25), rng.uniform(22, 30)],
  };
  const raWall: EllipsoidSpec = {
    ...raBlood,
    radii: [raBlood.radii[0] + 2, raBlood.radii[1] + 2, raBlood.radii[2] + 2],
  };

  // --- Great vessels.
  const rAo = rng.uniform(12, 17);
  const aorticRoot = add(add(M, scale(w, annulusRadiusMm + rAo * 0.7)), scale(n, 4));
  const anteriorLimit = laExtent.min[1] - rAo - 4;
  const a1 = add(aorticRoot, scale(D([-0.1, -0.15, 1]), rng.uniform(30, 42)));
  const ascTop: Vec3 = [
    a1[0] + rng.uniform(-6, 4),
    Math.min(a1[1], anteriorLimit),
    laExtent.max[2] + rng.uniform(25, 40),
  ];
  const a1c: Vec3 = [a1[0], Math.min(a1[1], anteriorLimit + 4), a1[2]];
  const rDa = rng.uniform(10, 14);
  const daX = L[0] + rng.uniform(15, 30);
  const daY = laExtent.max[1] + rDa + rng.uniform(4, 12);
  const archTop: Vec3 = [
    (ascTop[0] + daX) / 2,
    (ascTop[1] + daY) / 2,
    ascTop[2] + rng.uniform(15, 25),
  ];
  const daTop: Vec3 = [daX, daY, ascTop[2] - 5];
  const lvot = add(lvCentre, scale(d, -0.35 * lvHalf));
  const ascendingAorta: TubeSpec = {
    points: [lvot, aorticRoot, a1c, ascTop, archTop, daTop],
    radii: [rAo * 0.8, rAo * 1.1, rAo, rAo, rDa * 1.1, rDa],
  };
  const zLow = L[2] - 300;
  const daMid: Vec3 = [daX + rng.uniform(-6, 6), daY + rng.uniform(-4, 6), L[2] - 60];
  const descendingAorta: TubeSpec = {
    points: [daTop, [daX, daY, L[2]], daMid, [daMid[0] - 5, daMid[1] - 5, zLow]],
    radii: [rDa, rDa, rDa * 0.97, rDa * 0.9],
  };
  const rPa = rng.uniform(12, 15);
  const paBase = add(aorticRoot, [rng.uniform(22, 30), rng.uniform(-20, -12), rng.uniform(0, 10)]);
  const bifurcation: Vec3 = [
    L[0] + rng.uniform(-5, 10),
    laExtent.min[1] + rng.uniform(0, 15),
    laExtent.max[2] + rng.uniform(14, 22),
  ];
  const rRpa = rng.uniform(8, 11);
  const rLpa = rng.uniform(8, 11);
  const pulmonaryArteries: TubeSpec[] = [
    { points: [paBase, add(paBase, [4, 6, 22]), bifurcation], radii: [rPa, rPa, rPa * 0.9] },
    {
      points: [
        bifurcation,
        [laExtent.min[0] - 8, L[1] + rng.uniform(-10, 4), bifurcation[2] - 2],
        [laExtent.min[0] - 50, L[1] + rng.uniform(0, 15), bifurcation[2] - rng.uniform(5, 15)],
      ],
      radii: [rRpa, rRpa, rRpa * 0.55],
    },
    {
      points: [
        bifurcation,
        [laExtent.max[0] + 2, laExtent.max[1] - 5, bifurcation[2] + rng.uniform(2, 8)],
        [laExtent.max[0] + 40, L[1] + rng.uniform(20, 35), bifurcation[2] - rng.uniform(5, 15)],
      ],
      radii: [rLpa, rLpa, rLpa * 0.55],
    },
  ];
  const raTop = add(raBlood.centre, scale(D([0, 0, 1]), raBlood.radii[2] * 0.7));
  const rSvc = rng.uniform(8, 11);
  const svc: TubeSpec = {
    points: [raTop, add(raTop, [rng.uniform(-4, 2), rng.uniform(-2, 4), 200])],
    radii: [rSvc, rSvc],
  };
  const raBottom = add(raBlood.centre, scale(D([0, 0.2, -1]), raBlood.radii[2] * 0.6));
  const rIvc = rng.uniform(10, 13);
  const ivc: TubeSpec = {
    points: [raBottom, add(raBottom, [rng.uniform(-3, 5), rng.uniform(0, 10), -200])],
    radii: [rIvc, rIvc],
  };

  // --- Coronary sinus in the posterior atrioventricular groove: a bright tube hugging the LA wall.
  const posterior: Vec3 = [0, 1, 0];
  const e1 = normalize(sub(posterior, scale(n, dot(posterior, n))));
  const e2 = cross(n, e1);
  const csPoints: Vec3[] = [];
  const csRadii: number[] = [];
  const rCs = rng.uniform(3, 5.5);
  const ringR = annulusRadiusMm + wallMm + rCs + rng.uniform(1, 4);
  const sweep = rng.uniform(1.4, 2.0);
  for (let s = 0; s <= 6; s++) {
    const theta = -sweep + (2 * sweep * s) / 6;
    csPoints.push(
      add(
        add(M, scale(add(scale(e1, Math.cos(theta)), scale(e2, Math.sin(theta))), ringR)),
        scale(n, rng.uniform(-1, 3)),
      ),
    );
    csRadii.push(rCs * (0.7 + 0.5 * (s / 6)));
  }
  const coronarySinus: TubeSpec = { points: csPoints, radii: csRadii };
  const mitralLeaflets: TubeSpec[] = [];
  const leafletMm = rng.uniform(1.5, 2.8);
  for (let s = 0; s < 16; s++) {
    const theta = (2 * Math.PI * s) / 16 + rng.uniform(-0.1, 0.1);
    const radial = add(scale(e1, Math.cos(theta)), scale(e2, Math.sin(theta)));
    const hinge = add(M, scale(radial, annulusRadiusMm * 0.95));
    // Leaflets hang into the ventricle and lean towards its axis; the anterior one is longer.
    const length = rng.uniform(10, 18) * (Math.cos(theta) < 0 ? 1.2 : 0.9);
    const tip = add(hinge, add(scale(d, length), scale(radial, -length * rng.uniform(0.15, 0.4))));
    mitralLeaflets.push({ points: [hinge, tip], radii: [leafletMm / 2, leafletMm / 2.5] });
  }

  const rOe = rng.uniform(7, 11);
  const oeX = L[0] + rng.uniform(-14, 0);
  const oeY = laExtent.max[1] + rOe + rng.uniform(2, 6);
  const oesophagus: TubeSpec = {
    points: [
      [oeX, oeY, L[2] + 250],
      [oeX + rng.uniform(-4, 4), oeY, L[2]],
      [oeX + rng.uniform(0, 15), oeY - rng.uniform(0, 10), L[2] - 250],
    ],
    radii: [rOe, rOe, rOe],
  };

  // --- Fat pads touching the LA (roof, posterior wall, beside the veins): scar look-alikes.
  const padCentres: Vec3[] = [];
  const padRadii: number[] = [];
  const pads = classic ? rng.int(0, 6) : rng.int(A.fatPads[0], A.fatPads[1]);
  for (let s = 0; s < pads; s++) {
    let u: Vec3 = rng.unitVector();
    if (dot(u, D([0, 0.6, 0.6])) < 0) u = scale(u, -1);
    const rf = classic ? rng.uniform(3, 9) : rng.uniform(2.5, 10);
    padCentres.push(add(surface(u), scale(u, wallMm + rf * rng.uniform(0.3, 0.8))));
    padRadii.push(rf);
  }

  const lungVessels: TubeSpec[] = [];
  const roots: { p: Vec3; dir: Vec3; r: number }[] = [];
  for (const v of veins) {
    const pts = v.trunk.points;
    roots.push({
      p: pts[pts.length - 1]!,
      dir: normalize(sub(pts[pts.length - 1]!, pts[pts.length - 2]!)),
      r: v.trunk.radii[v.trunk.radii.length - 1]!,
    });
    roots.push({
      p: v.branch.points[1]!,
      dir: normalize(sub(v.branch.points[1]!, v.branch.points[0]!)),
      r: v.branch.radii[1]!,
    });
  }
  for (const pa of pulmonaryArteries.slice(1)) {
    const pts = pa.points;
    roots.push({
      p: pts[pts.length - 1]!,
      dir: normalize(sub(pts[pts.length - 1]!, pts[pts.length - 2]!)),
      r: pa.radii[pa.radii.length - 1]!,
    });
  }
  const grow = (p: Vec3, dir: Vec3, r: number, depth: number): void => {
    if (depth === 0 || r < 1) return;
    const children = rng.int(2, 3);
    for (let s = 0; s < children; s++) {
      const d2 = jitter(add(dir, scale(rng.unitVector(), 0.7)), 0.1);
      const end = add(p, scale(d2, rng.uniform(14, 32)));
      const r2 = r * rng.uniform(0.6, 0.8);
      lungVessels.push({ points: [p, end], radii: [r2, r2 * 0.85] });
      grow(end, d2, r2 * 0.85, depth - 1);
    }
  };
  for (const root of roots) grow(root.p, root.dir, root.r, 2);

  const torso = sampleTorso(rng, L, laExtent, rvBlood, descendingAorta, lvBlood);
  // Own fork: the pattern draw shifts no anatomy. Classic scar is the mixed pattern.
  const patternRoll = classic ? NaN : rng.fork(0x5ca7).next();
  const P = A.scarPatternChances;
  const scarPattern: ScarPattern = classic
    ? 'mixed'
    : patternRoll < P.lines
      ? 'lines'
      : patternRoll < P.lines + P.mixed
        ? 'mixed'
        : 'confluent';

  return {
    laCentre: L,
    targetLaVolumeMl,
    scarPattern,
    frame,
    laBody,
    laExtent,
    mitral: { point: M, normal: n, annulusRadiusMm },
    veins,
    appendage: { centres: laaCentres, radii: laaRadii },
    wallMm,
    lvBlood,
    lvMyocardium,
    infarct,
    rvBlood,
    rvMyocardium,
    raBlood,
    raWall,
    ascendingAorta,
    descendingAorta,
    pulmonaryArteries,
    svc,
    ivc,
    coronarySinus,
    mitralLeaflets,
    oesophagus,
    lungVessels,
    fatPads: { centres: padCentres, radii: padRadii },
    epicardialFatMm: classic ? rng.uniform(3, 12) : rng.uniform(2, 14),
    epicardialFatBias: rng.uniform(-0.2, 0.45),
    periVascularFatMm: rng.uniform(2, 8),
    torso,
  };
}

function sampleTorso(
  rng: Rng,
  L: Vec3,
  la: Extent,
  rv: EllipsoidSpec,
  descendingAorta: TubeSpec,
  lv: EllipsoidSpec,
): TorsoSpec {
  const rvFront = rv.centre[1] - axisExtent(rv, [0, 1, 0]) - 3;
  const daY = descendingAorta.points[1]![1];
  const rDa = descendingAorta.radii[1]!;
  const spineR = rng.uniform(15, 20);
  const spine: [number, number] = [
    L[0] + rng.uniform(-10, 5),
    daY + rDa + spineR * rng.uniform(0.3, 0.9),
  ];
  const front = rvFront - rng.uniform(15, 40);
  const back = spine[1] + spineR + rng.uniform(45, 80);
  const semiY = (back - front) / 2;
  const semiX = semiY * rng.uniform(1.3, 1.65);
  const centre: [number, number] = [spine[0] + rng.uniform(-8, 8), (back + front) / 2];
  const subcutaneousFatMm = rng.uniform(4, 28);
  const chestWallMm = rng.uniform(10, 18);
  const ix = semiX - subcutaneousFatMm - chestWallMm;
  const iy = semiY - subcutaneousFatMm - chestWallMm;
  const lungs = [-1, 1].map((side) => ({
    centre: [
      centre[0] + side * ix * rng.uniform(0.45, 0.55),
      centre[1] + iy * rng.uniform(0, 0.12),
    ] as const,
    semiAxes: [ix * rng.uniform(0.45, 0.52), iy * rng.uniform(0.82, 0.92)] as const,
  }));
  const lvBottom = lv.centre[2] - axisExtent(lv, [0, 0, 1]);
  const dome = Math.min(lvBottom + rng.uniform(-5, 8), la.min[2] - 15);
  const liverR: Vec3 = [
    ix * rng.uniform(0.55, 0.7),
    iy * rng.uniform(0.8, 0.95),
    rng.uniform(80, 100),
  ];
  const liver = {
    centre: [
      centre[0] - ix * 0.35,
      centre[1] + iy * 0.05,
      dome + rng.uniform(0, 10) - liverR[2],
    ] as Vec3,
    radii: liverR,
  };
  const stomachR: Vec3 = [rng.uniform(45, 65), rng.uniform(40, 60), rng.uniform(45, 60)];
  const stomach = {
    centre: [
      centre[0] + ix * 0.45,
      centre[1] - iy * 0.15,
      dome - rng.uniform(5, 20) - stomachR[2] * 0.9,
    ] as Vec3,
    radii: stomachR,
  };
  return {
    centre,
    semiAxes: [semiX, semiY],
    subcutaneousFatMm,
    chestWallMm,
    spine: { centre: spine, radius: spineR },
    lungs,
    liver,
    stomach,
    arms: rng.chance(0.6),
    discPeriodMm: rng.uniform(24, 30),
    discPhaseMm: rng.uniform(0, 30),
  };
}

/** Half-width of an (undeformed) ellipsoid along a unit world axis. */
export function axisExtent(spec: EllipsoidSpec, axis: Vec3): number {
  let s = 0;
  for (let t = 0; t < 3; t++) {
    const proj = dot(spec.frame[t]!, axis) * spec.radii[t]!;
    s += proj * proj;
  }
  return Math.sqrt(s);
}

/** World-axis extent of a deformed ellipsoid, by sampling its surface (ignores any clip). */
function ellipsoidExtent(spec: EllipsoidSpec): Extent {
  const min: [number, number, number] = [Infinity, Infinity, Infinity];
  const max: [number, number, number] = [-Infinity, -Infinity, -Infinity];
  const steps = 24;
  for (let s = 0; s <= steps; s++) {
    const theta = (Math.PI * s) / steps;
    for (let t = 0; t < 2 * steps; t++) {
      const phi = (Math.PI * t) / steps;
      const u: Vec3 = [
        Math.sin(theta) * Math.cos(phi),
        Math.sin(theta) * Math.sin(phi),
        Math.cos(theta),
      ];
      const p = add(spec.centre, scale(u, surfaceDistance(spec, u)));
      for (let a = 0; a < 3; a++) {
        min[a] = Math.min(min[a]!, p[a]!);
        max[a] = Math.max(max[a]!, p[a]!);
      }
    }
  }
  return { min, max };
}

/** A rotation: random yaw/pitch/roll up to the given angles (radians) about z, x and y. */
function randomFrame(rng: Rng, yaw: number, pitch: number, roll: number): Frame {
  const yawAngle = rng.uniform(-yaw, yaw);
  const pitchAngle = rng.uniform(-pitch, pitch);
  const rollAngle = rng.uniform(-roll, roll);
  const apply = (v: Vec3): Vec3 =>
    rotateAbout(
      rotateAbout(rotateAbout(v, [0, 0, 1], yawAngle), [1, 0, 0], pitchAngle),
      [0, 1, 0],
      rollAngle,
    );
  return [apply([1, 0, 0]), apply([0, 1, 0]), apply([0, 0, 1])];
}

function frameFromAxis(axis: Vec3, hint: Vec3): Frame {
  let h = hint;
  if (Math.abs(dot(h, axis)) > 0.9) h = [1, 0, 0];
  const second = normalize(sub(h, scale(axis, dot(h, axis))));
  return [axis, second, cross(axis, second)];
}

function perpendicular(rng: Rng, axis: Vec3): Vec3 {
  const u = rng.unitVector();
  return normalize(sub(u, scale(axis, dot(u, axis))));
}

function cross(a: Vec3, b: Vec3): Vec3 {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

function clampAbs(x: number, limit: number): number {
  return clamp(x, -limit, limit);
}
