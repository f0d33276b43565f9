import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  ModelManifestError,
  laAcceptsCrops,
  openStudyNetworks,
  parseModelManifest,
} from './onnx-networks.js';

const MODELS = fileURLToPath(new URL('../../../models', import.meta.url));
const manifestJson = (kind: 'la' | 'scar'): Record<string, unknown> =>
  JSON.parse(readFileSync(`${MODELS}/${kind}.json`, 'utf8')) as Record<string, unknown>;

describe('model manifests', () => {
  it("hands each manifest's probability threshold to the pipeline with the networks", async () => {
    const la = parseModelManifest(
      { ...manifestJson('la'), thresholds: { probability: 0.7 } },
      'la',
    );
    const scar = parseModelManifest(
      { ...manifestJson('scar'), thresholds: { probability: 0.35 } },
      'scar',
    );
    const loaded = await openStudyNetworks(
      {
        la: { model: `${MODELS}/la.onnx`, manifest: la },
        scar: { model: `${MODELS}/scar.onnx`, manifest: scar },
      },
      { executionProvider: 'cpu' },
    );
    try {
      expect(loaded.networks.thresholds).toEqual({ la: 0.7, scar: 0.35 });
    } finally {
      await loaded.release();
    }
  });

  it('refuses a threshold that is not a probability', () => {
    expect(() =>
      parseModelManifest({ ...manifestJson('la'), thresholds: { probability: 1.5 } }, 'la'),
    ).toThrow(ModelManifestError);
    expect(() =>
      parseModelManifest({ ...manifestJson('la'), thresholds: { probability: 0 } }, 'la'),
    ).toThrow("la.json: 'thresholds.probability' must be a number between 0 and 1, got 0");
  });

  const laInputs = (full: (number | string)[], half: (number | string)[]): unknown => [
    { name: 'image_full', dtype: 'float32', shape: ['batch', 1, ...full] },
    { name: 'image_half', dtype: 'float32', shape: ['batch', 1, ...half] },
  ];

  it('takes named LA height/width axes (crops allowed) and fixed 640 / 320 ones (crops off)', () => {
    const shipped = parseModelManifest(manifestJson('la'), 'la');
    expect(laAcceptsCrops(shipped)).toBe(true);
    const fixed = parseModelManifest(
      { ...manifestJson('la'), inputs: laInputs([640, 640], [320, 320]) },
      'la',
    );
    expect(laAcceptsCrops(fixed)).toBe(false);
  });

  it('refuses LA inputs that mix fixed and named axes, or other fixed sizes; scar stays fixed', () => {
    expect(() =>
      parseModelManifest(
        { ...manifestJson('la'), inputs: laInputs(['height', 'width'], [320, 320]) },
        'la',
      ),
    ).toThrow(/mix fixed and named height\/width axes/);
    expect(() =>
      parseModelManifest({ ...manifestJson('la'), inputs: laInputs([512, 512], [256, 256]) }, 'la'),
    ).toThrow("input 'image_full' has shape [batch, 1, 512, 512], expected [batch, 1, 640, 640]");
    expect(() =>
      parseModelManifest(
        { ...manifestJson('la'), inputs: laInputs(['height', 'width'], ['h', 'w']).toString() },
        'la',
      ),
    ).toThrow("'inputs' must be a list");
    const scar = manifestJson('scar');
    expect(() =>
      parseModelManifest(
        { ...scar, inputs: [{ name: 'patches', shape: ['batch', 3, 'height', 'width'] }] },
        'scar',
      ),
    ).toThrow(/input 'patches' has shape/);
  });

  it('runs the shipped LA model on a window of the canvas (any multiple of 64)', async () => {
    const loaded = await openStudyNetworks(
      {
        la: { model: `${MODELS}/la.onnx`, manifest: parseModelManifest(manifestJson('la'), 'la') },
        scar: {
          model: `${MODELS}/scar.onnx`,
          manifest: parseModelManifest(manifestJson('scar'), 'scar'),
        },
      },
      { executionProvider: 'cpu' },
    );
    try {
      expect(loaded.networks.laCrops).toBe(true);
      const [width, height, count] = [256, 192, 2];
      const full = new Float32Array(count * width * height).map((_, p) => Math.sin(p / 97));
      const half = new Float32Array((count * width * height) / 4);
      const out = await loaded.networks.la({ firstSlice: 0, count, width, height, full, half });
      expect(out.length).toBe(count * width * height);
      expect(out.every((p) => p >= 0 && p <= 1)).toBe(true);
    } finally {
      await loaded.release();
    }
  });
});
