// The model version must name the bytes that run: the shipped models folder is copied, one byte
// of la.onnx is changed, and the folder is refused until the manifest's sha256 matches again;
// then the version (and with it every SEG UID) differs from the shipped one.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { modelVersionOf } from './model-version.js';
import { ModelManifestError, sha256Hex } from './onnx-networks.js';
import { openNetworksFromDirectory } from './onnx-models-dir.js';

const MODELS = fileURLToPath(new URL('../../../models', import.meta.url));
const work = mkdtempSync(path.join(tmpdir(), 'lascar-models-'));

afterAll(() => rmSync(work, { recursive: true, force: true }));

function copyModels(name: string): string {
  const dir = path.join(work, name);
  for (const f of ['la.onnx', 'la.json', 'scar.onnx', 'scar.json'])
    cpSync(path.join(MODELS, f), path.join(dir, f));
  return dir;
}

describe('openNetworksFromDirectory', () => {
  it('refuses a model file whose bytes do not match its manifest, and a matching manifest changes the version', async () => {
    const shipped = await openNetworksFromDirectory(MODELS, 'cpu');
    const shippedVersion = modelVersionOf(shipped.manifests);
    await shipped.release();

    const dir = copyModels('one-byte-changed');
    const onnx = path.join(dir, 'la.onnx');
    const bytes = readFileSync(onnx);
    // The middle of the file lies in the weights (raw float data): the graph still loads.
    bytes[bytes.length >> 1] ^= 0x01;
    writeFileSync(onnx, bytes);

    const refused = openNetworksFromDirectory(dir, 'cpu');
    await expect(refused).rejects.toBeInstanceOf(ModelManifestError);
    await expect(refused).rejects.toThrow(
      new RegExp(
        `^${onnx.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: its SHA-256 is ${sha256Hex(bytes)} but the la manifest says ${shipped.manifests.la.sha256};`,
      ),
    );

    const manifestFile = path.join(dir, 'la.json');
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Record<string, unknown>;
    writeFileSync(manifestFile, JSON.stringify({ ...manifest, sha256: sha256Hex(bytes) }));
    const swapped = await openNetworksFromDirectory(dir, 'cpu');
    const swappedVersion = modelVersionOf(swapped.manifests);
    await swapped.release();
    expect(swappedVersion).not.toBe(shippedVersion);
    expect(swappedVersion).toBe(
      `la-${sha256Hex(bytes).slice(0, 12)}.scar-${shipped.manifests.scar.sha256.slice(0, 12)}`,
    );
  });

  it('refuses a manifest whose sha256 is not a SHA-256', async () => {
    const dir = copyModels('bad-hash-field');
    const manifestFile = path.join(dir, 'scar.json');
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Record<string, unknown>;
    writeFileSync(manifestFile, JSON.stringify({ ...manifest, sha256: 'abc' }));
    await expect(openNetworksFromDirectory(dir, 'cpu')).rejects.toThrow(
      /scar\.json: 'sha256' must be the model file's SHA-256/,
    );
  });
});
