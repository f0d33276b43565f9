/**
 * How a phantom presents itself as a DICOM MR series: synthetic patient and study identity and
 * the LGE acquisition description a PACS would show (series description, protocol, sequence
 * name, inversion time), varied per seed like studies from different scanners. Every name is
 * obviously synthetic (patient names start with PHANTOM, IDs with LQP).
 */
import type { MrAcquisition } from '../dicom/mr-writer.js';
import type { StudyIdentity } from '../dicom/series.js';
import { deterministicUid } from '../dicom/uids.js';
import { Rng } from './random.js';
import type { PhantomTruth } from './generate.js';

interface Vendor {
  readonly manufacturer: string;
  readonly models: readonly string[];
  readonly sequences: readonly string[];
  readonly descriptions: readonly string[];
  readonly protocols: readonly string[];
}

const VENDORS: readonly Vendor[] = [
  {
    manufacturer: 'SIEMENS',
    models: ['Avanto', 'Aera', 'Skyra', 'Prisma'],
    sequences: ['*tfl3d1_ns', '*tfl3d1', '*fl3d1r_ns'],
    descriptions: ['LGE 3D PSIR', 'DE_3D_LA', 'tfl_3D_LGE_LA_nav', 'LA LGE 3D IR navigator'],
    protocols: ['DE_3D_LA', 'LGE_3D_LA_NAV', 'tfl_LGE_3D'],
  },
  {
    manufacturer: 'Philips Medical Systems',
    models: ['Achieva', 'Ingenia', 'Ingenia Elition X'],
    sequences: ['T1TFE', 'IR_TFE', 'TFE3D'],
    descriptions: ['LGE_3D_IR_TFE', 'sLGE 3D LA', 'WIP LGE 3D navigator', 'LA_LGE_3D'],
    protocols: ['LGE 3D LA', 'IR_TFE_3D_LGE', 'LA fibrosis 3D'],
  },
  {
    manufacturer: 'GE MEDICAL SYSTEMS',
    models: ['Signa HDxt', 'Discovery MR750w', 'SIGNA Artist'],
    sequences: ['FSPGR_IR3D', 'efgre3d', 'MDE3D'],
    descriptions: ['3D MDE LA', 'LGE 3D LA nav', 'DE_3D_ATRIUM'],
    protocols: ['Cardiac 3D MDE LA', 'LGE_LA_3D'],
  },
];

const GIVEN = [
  'ALPHA',
  'BRAVO',
  'CEDAR',
  'DELTA',
  'EMBER',
  'FJORD',
  'GLACIER',
  'HARBOR',
  'IRIS',
  'JUNIPER',
  'KESTREL',
  'LUMEN',
];
const SITES = ['Synthetic Heart Centre', 'Phantom University Hospital', 'LAScar Test Clinic'];

export interface PhantomDicomDescription {
  readonly identity: StudyIdentity;
  readonly acquisition: MrAcquisition;
}

/** Deterministic identity and acquisition for case `caseName` of phantom `truth`. */
export function phantomDicomDescription(
  truth: PhantomTruth,
  caseName: string,
): PhantomDicomDescription {
  const rng = new Rng(truth.seed).fork(0xd1c0);
  const vendor = rng.pick(VENDORS);
  const year = rng.int(2016, 2025);
  const month = rng.int(1, 12);
  const day = rng.int(1, 28);
  const studyDate = `${year}${pad(month)}${pad(day)}`;
  const studyTime = `${pad(rng.int(7, 18))}${pad(rng.int(0, 59))}${pad(rng.int(0, 59))}`;
  const age = rng.int(38, 82);
  const birthDate = `${year - age}${pad(rng.int(1, 12))}${pad(rng.int(1, 28))}`;
  const patientId = `LQP${String(truth.seed).padStart(10, '0')}`;
  const studyInstanceUid = deterministicUid('lascar phantom study', String(truth.seed));
  const identity: StudyIdentity = {
    patientName: `PHANTOM^${rng.pick(GIVEN)}^${caseName.toUpperCase().replace(/[^A-Z0-9]/g, '')}`,
    patientId,
    patientBirthDate: birthDate,
    patientSex: rng.pick(['M', 'F']),
    studyInstanceUid,
    studyDate,
    studyTime,
    studyId: String(rng.int(1000, 99999)),
    accessionNumber: `PH${rng.int(1_000_000, 9_999_999)}`,
    referringPhysicianName: 'SYNTHETIC^REFERRER',
    studyDescription: rng.pick([
      'CARDIAC^LA LGE post ablation',
      'MR HEART LGE',
      'Cardiac MRI AF ablation follow-up',
    ]),
  };
  const acquisition: MrAcquisition = {
    seriesNumber: rng.int(5, 40),
    seriesDescription: rng.pick(vendor.descriptions),
    protocolName: rng.pick(vendor.protocols),
    sequenceName: rng.pick(vendor.sequences),
    inversionTimeMs: Math.round(rng.uniform(260, 340)),
    repetitionTimeMs: round1(rng.uniform(3.2, 6.5)),
    echoTimeMs: round1(rng.uniform(1.4, 2.5)),
    flipAngleDeg: rng.int(15, 25),
    magneticFieldStrengthT: rng.chance(0.7) ? 1.5 : 3,
    triggerTimeMs: rng.int(350, 700),
    sliceThicknessMm: round1(truth.acquisition.sliceThicknessMm),
    manufacturer: vendor.manufacturer,
    manufacturerModelName: rng.pick(vendor.models),
    institutionName: rng.pick(SITES),
  };
  return { identity, acquisition };
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}
function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
