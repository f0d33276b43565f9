/**
 * Fakes for the worker's fast tests (never its integration tests): a PACS that serves one phantom
 * series from memory, and networks that answer instantly (or as a test makes them).
 */
import {
  generatePhantom,
  LA_INPUT_SIZE,
  phantomDicomDescription,
  readDicomSeries,
  writeMrSeries,
  type LaNetwork,
  type ScarNetwork,
} from '@lascar/core';
import type { LoadedNetworks, ModelManifest } from '@lascar/core/onnx';
import { sopInstanceUidOfPart10, type PacsClient, type SeriesRef } from '@lascar/pacs';

/**
 * A PACS holding one small phantom LGE series; stores are accepted and kept. `encode` re-encodes
 * the instances as the PACS would serve them (a compressed transfer syntax).
 */
export function phantomPacs(
  seed: number,
  encode: (instances: Uint8Array[]) => Uint8Array[] = (instances) => instances,
): { pacs: PacsClient; ref: SeriesRef; stored: number } {
  const phantom = generatePhantom(seed, { scale: 0.15 });
  const described = phantomDicomDescription(phantom.truth, `phantom-${seed}`);
  const written = writeMrSeries(phantom.image, described.identity, described.acquisition);
  const ref = {
    studyInstanceUid: described.identity.studyInstanceUid,
    seriesInstanceUid: readDicomSeries(written).source.seriesInstanceUid,
  };
  const instances = encode(written);
  const state = { stored: 0 };
  const pacs: PacsClient = {
    ping: async () => undefined,
    seriesAttributes: async () => {
      throw new Error('the fake PACS does not answer QIDO');
    },
    listInstanceUids: async () => instances.map((bytes) => sopInstanceUidOfPart10(bytes)),
    retrieveSeries: async () => instances.map((bytes, n) => ({ name: `${n}.dcm`, bytes })),
    storeInstances: async (_study, stored) => {
      state.stored += stored.length;
    },
    searchSeries: async () => [],
  };
  return {
    pacs,
    ref,
    get stored() {
      return state.stored;
    },
  };
}

/** An LA network that finds a disc in the middle of each canvas. */
export const discLaNetwork: LaNetwork = async ({ count }) => {
  const size = LA_INPUT_SIZE;
  const out = new Float32Array(count * size * size);
  for (let b = 0; b < count; b++)
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++)
        if ((x - size / 2) ** 2 + (y - size / 2) ** 2 < 30 ** 2)
          out[b * size * size + y * size + x] = 0.9;
  return out;
};

/** A scar network that finds no scar. */
export const noScarNetwork: ScarNetwork = async ({ count }) => new Float32Array(count * 64 * 64);

function manifest(model: 'la' | 'scar'): ModelManifest {
  return {
    model,
    architecture: `fake ${model}`,
    file: `${model}.onnx`,
    sha256: '0'.repeat(64),
    width: 1,
    parameters: 1,
    inputs: [],
    thresholds: { probability: 0.5 },
    preprocessing: 'fake',
    training_data: { synthetic: true, summary: 'none: a fake for tests' },
    exported: '2026-01-01T00:00:00Z',
  };
}

/** LoadedNetworks around two network functions. */
export function fakeNetworks(la: LaNetwork, scar: ScarNetwork = noScarNetwork): LoadedNetworks {
  return {
    networks: { la, scar },
    executionProvider: 'cpu',
    providerFallbacks: [],
    providerSummary: 'execution provider: cpu (a fake)',
    manifests: { la: manifest('la'), scar: manifest('scar') },
    synthetic: true,
    release: async () => undefined,
  };
}
