import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type PhantomOptions, generatePhantom } from './generate.js';
import { caseSeed } from './random.js';

/**
 * Golden digests of the classic style. Source: the generator on main at commit 512431c (before
 * domain randomisation; its phantom code is unchanged through 8944799), computed with
 * generatePhantom(seed, options) from main's built @lascar/core. The product's tests, the
 * quickstart demo and the classic held-out set (seeds 90001..) rely on these exact phantoms, so
 * a change here means every seeded phantom they use changed too.
 */
const sha256 = (a: ArrayBufferView): string =>
  createHash('sha256')
    .update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
    .digest('hex');

interface Golden {
  readonly seed: number;
  readonly options: PhantomOptions;
  readonly image: string;
  readonly la: string;
  readonly scar: string;
  /** laVoxels, scarVoxels, wallVoxels, laVolumeMl, scarBurdenPercent from main's truth. */
  readonly quantities: readonly [number, number, number, number, number];
}

const GOLDEN: readonly Golden[] = [
  {
    seed: 101,
    options: { scale: 0.15 },
    image: '916dbdfb4e7d1d83ee42e12b2a237e5b5a80cbb1e8119beecf7570c082787a42',
    la: 'c796d7823c8e73f8634cf03507e387bb92b937b39e812dfdf5a725145ecc222a',
    scar: 'eed7ca954651597cebd5bac7c4e56ccc0cb81520bcb7485d87a4314789b9f31b',
    quantities: [7397, 240, 2599, 88.764, 9.234],
  },
  {
    seed: 7,
    options: { scale: 0.2 },
    image: 'e4eefa0d114133e3831bf46fd00183f4629cded067e84104a52ce83f017ed346',
    la: '8ea0281a3e5f54ed729514600fb21e19c1220a96de7e21229a8c6198c256d370',
    scar: 'b51d2ccd973e7f65e8f2a4f4676b6f781867545296b1a9a2fd45765cba08f8b1',
    quantities: [9968, 274, 3083, 119.616, 8.887],
  },
  {
    seed: 2024,
    options: { scale: 0.25 },
    image: 'ad3fa29d49c90213639a923eaa4fb81298f0f50fdf9ef2769d39020ed114ef0f',
    la: 'f9b3e332d5c587fa91c7984f4498c0aa674075084f68d531f869a4b0af1471b5',
    scar: '238fc5cbb9840ab071fdcc1597fa8ee8791c631bb32507f358e383c0b1228411',
    quantities: [8369, 299, 2753, 100.428, 10.861],
  },
  {
    // `lascar phantom --seed 42 --matrix 96 --slices 40`, case 0 (30 % scar burden).
    seed: caseSeed(42, 0),
    options: { matrix: 96, slices: 40 },
    image: 'c49733ba1eff869aac5cb63ffc2873cae6694a9243f7b69387c9ba2b79418529',
    la: '8d61da477ec90cf944769345864f4c0b453ed0490cff91e4d8046fff762e5173',
    scar: '676598845bcc15fd6563f2734f09e79c1434b8b1a6f8bb52d526496ad42a3fac',
    quantities: [84135, 8289, 27457, 77.233, 30.189],
  },
];

describe('classic style: byte-identical to the generator before domain randomisation', () => {
  it.each(GOLDEN)('seed $seed $options', (g) => {
    const implicit = generatePhantom(g.seed, g.options);
    expect(implicit.truth.acquisition.style).toBe('classic');
    expect(sha256(implicit.image.data)).toBe(g.image);
    expect(sha256(implicit.la.data)).toBe(g.la);
    expect(sha256(implicit.scar.data)).toBe(g.scar);
    const q = implicit.truth.quantities;
    expect([q.laVoxels, q.scarVoxels, q.wallVoxels, q.laVolumeMl, q.scarBurdenPercent]).toEqual(
      g.quantities,
    );
    // Naming the style changes nothing.
    const named = generatePhantom(g.seed, { ...g.options, style: 'classic' });
    expect(sha256(named.image.data)).toBe(g.image);
    // The classic look takes none of the randomised draws.
    expect(implicit.truth.acquisition.misregistrationMm).toBe(0);
    expect(implicit.truth.anatomy.scarPattern).toBe('mixed');
    expect(implicit.truth.anatomy.targetLaVolumeMl).toBeNull();
    expect(implicit.truth.contrast.model).toBe('classic');
  });

  it('the randomised style of the same seed is another phantom', () => {
    const g = GOLDEN[0]!;
    const r = generatePhantom(g.seed, { ...g.options, style: 'randomised' });
    expect(r.truth.acquisition.style).toBe('randomised');
    expect(sha256(r.image.data)).not.toBe(g.image);
  });

  it('rejects an unknown style', () => {
    expect(() => generatePhantom(1, { scale: 0.15, style: 'training' as never })).toThrow(
      /style "training"/,
    );
  });
});
