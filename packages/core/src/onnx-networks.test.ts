import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ModelManifestError, openStudyNetworks, parseModelManifest } from './onnx-networks.js';

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
});
