/**
 * A real Orthanc (Debian package, 1.10+) for integration tests, and phantom series to put in it.
 * The launcher lives in packages/pacs/src/orthanc-process.ts (the benchmark and the quick start use it too);
 * it refuses to start Orthanc outside a private network namespace, so run the tests with
 * `npm run test:integration` (scripts/orthanc/in-private-network.sh).
 */
import {
  generatePhantom,
  makeVolume,
  phantomDicomDescription,
  readDicomSeries,
  writeMrSeries,
  type MrAcquisition,
  type PhantomTruth,
  type StudyIdentity,
} from '@lascar/core';
import type { OrthancInstance } from '@lascar/pacs/orthanc';

export {
  assertPrivateNetwork,
  freePort,
  networkInterfaces,
  startOrthanc,
  workerPacsEnv,
  DICOMWEB_PLUGIN,
  LUA_SCRIPT,
  ORTHANC_BINARY,
  type OrthancInstance,
  type StartOrthancOptions,
} from '@lascar/pacs/orthanc';

export interface PhantomSeries {
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  /** Part-10 MR instances, one per slice. */
  readonly instances: Uint8Array[];
  /** What the phantom holds (LA volume, scar volume, burden), to check results against. */
  readonly truth: PhantomTruth['quantities'];
  /** In-plane pixel spacing, mm (the shipped networks find the LA at about 1.4 mm or finer). */
  readonly pixelSpacingMm: number;
}

/**
 * A synthetic LGE series (phantom) as Part-10 MR instances. `acquisition` overrides the series
 * identification (e.g. a non-LGE description or another SeriesInstanceUID).
 */
export function phantomSeries(
  seed: number,
  options: {
    scale?: number;
    slices?: number;
    acquisition?: MrAcquisition;
    /** Overrides of the phantom's patient/study identity (e.g. studyDate for a date window). */
    identity?: Partial<Omit<StudyIdentity, 'studyInstanceUid'>>;
    /** Every pixel 0: an LGE series with nothing in it (no LA to find). */
    blank?: boolean;
  } = {},
): PhantomSeries {
  const phantom = generatePhantom(seed, {
    scale: options.scale ?? 0.2,
    ...(options.slices ? { slices: options.slices } : {}),
  });
  const described = phantomDicomDescription(phantom.truth, `phantom-${seed}`);
  const identity: StudyIdentity = { ...described.identity, ...options.identity };
  const acquisition = described.acquisition;
  const merged: MrAcquisition = { ...acquisition, ...options.acquisition };
  const image = options.blank
    ? makeVolume(phantom.image.geometry, new Int16Array(phantom.image.data.length))
    : phantom.image;
  const instances = writeMrSeries(image, identity, merged);
  const first = readDicomSeries(instances).source;
  return {
    studyInstanceUid: identity.studyInstanceUid,
    seriesInstanceUid: first.seriesInstanceUid,
    instances,
    truth: phantom.truth.quantities,
    pixelSpacingMm: phantom.image.geometry.spacing[0],
  };
}

/** Stores instances through Orthanc's own REST API (POST /instances), one by one. */
export async function storeInOrthanc(
  orthanc: Pick<OrthancInstance, 'url' | 'username' | 'password'>,
  instances: readonly Uint8Array[],
): Promise<void> {
  const authorization = `Basic ${Buffer.from(`${orthanc.username}:${orthanc.password}`).toString('base64')}`;
  for (const bytes of instances) {
    const res = await fetch(`${orthanc.url}/instances`, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/dicom' },
      body: bytes,
    });
    const text = await res.text();
    if (!res.ok)
      throw new Error(`Orthanc refused an instance: HTTP ${res.status} ${text.slice(0, 200)}`);
  }
}

/** Polls until probe returns a value (not undefined), or fails naming what it waited for. */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
