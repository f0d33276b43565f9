import { describe, expect, it } from 'vitest';
import {
  DEFAULT_LGE_RULES,
  DEFAULT_LGE_RULES_JSON,
  parseSelectionRules,
  selectSeries,
  SelectionRulesError,
  type SelectableSeries,
} from './selection.js';

const mr = (s: SelectableSeries): SelectableSeries => ({
  modality: 'MR',
  numberOfInstances: 88,
  imageType: ['ORIGINAL', 'PRIMARY', 'M', 'IR'],
  sopClassUid: '1.2.840.10008.5.1.4.1.1.4',
  ...s,
});

describe('selectSeries with the default LGE rules', () => {
  // Names seen on Siemens, Philips and GE scanners for LGE / delayed-enhancement protocols.
  const lge: SelectableSeries[] = [
    {
      seriesDescription: 'DE_3D_LA',
      protocolName: 'DE_3D_LA',
      sequenceName: '*tfl3d1_ns',
      manufacturer: 'SIEMENS',
    },
    { seriesDescription: 'LGE 3D PSIR', manufacturer: 'SIEMENS' },
    { seriesDescription: '3D LGE NAV', manufacturer: 'Philips Medical Systems' },
    { seriesDescription: 'tfl_LGE_3D', sequenceName: '*tfl3d1' },
    { seriesDescription: 'MDE', protocolName: '3D MDE', manufacturer: 'GE MEDICAL SYSTEMS' },
    { seriesDescription: 'Delayed Enhancement' },
    { seriesDescription: 'PSIR_TFE', manufacturer: 'Philips Medical Systems' },
    { seriesDescription: 'WIP 3D LGE RESP NAV' },
    { seriesDescription: 'late gad 3D' },
    { seriesDescription: 'Viability 3D' },
    { seriesDescription: 'Series 12', protocolName: 'LA_scar_3D' },
  ];
  for (const s of lge) {
    it(`selects '${s.seriesDescription}'${s.protocolName ? ` / '${s.protocolName}'` : ''}`, () => {
      const d = selectSeries(mr(s));
      expect(d.selected, d.reason).toBe(true);
      expect(d.reason).toMatch(
        /^selected: (series description|protocol name) '.+' matches LGE pattern \/.+\/i$/,
      );
    });
  }

  const notLge: [SelectableSeries, RegExp][] = [
    [
      { seriesDescription: 'CINE_SAX' },
      /^skipped: series description 'CINE_SAX' matches exclude pattern \/cine\/i$/,
    ],
    [{ seriesDescription: 'cine_4ch_retro' }, /exclude pattern \/cine\/i/],
    [
      { seriesDescription: 'T2_TSE_TRA_BH' },
      /series description 'T2_TSE_TRA_BH' matches exclude pattern/,
    ],
    [{ seriesDescription: 'T2W BB SAX' }, /exclude pattern/],
    [{ seriesDescription: 'localizer' }, /exclude pattern \/locali\[sz\]\/i/],
    [{ seriesDescription: 'TI_scout_LGE' }, /'TI_scout_LGE' matches exclude pattern \/scout\/i/],
    [{ seriesDescription: 'Survey' }, /exclude pattern \/survey\/i/],
    [{ seriesDescription: 'fl3d_TOF_PV' }, /exclude pattern/],
    [{ seriesDescription: 'CE_MRA_PV' }, /exclude pattern/],
    [{ seriesDescription: 'Perfusion_stress' }, /exclude pattern \/perf\/i/],
    [{ seriesDescription: 'MOLLI_T1map_post' }, /exclude pattern/],
    [{ seriesDescription: 'ShMOLLI' }, /exclude pattern/],
    [{ seriesDescription: 'T1 map native' }, /exclude pattern/],
    [{ seriesDescription: 'flow_Ao_venc150' }, /exclude pattern/],
    [{ seriesDescription: 'HASTE_TRA' }, /exclude pattern \/haste\/i/],
    [{ seriesDescription: 't1_mprage_sag' }, /exclude pattern/],
    [
      { seriesDescription: 'B-TFE_BH' },
      /^skipped: no LGE pattern matches series description 'B-TFE_BH'$/,
    ],
    [
      {},
      /^skipped: no LGE pattern matches the series \(no description, protocol or sequence name\)$/,
    ],
  ];
  for (const [s, reason] of notLge) {
    it(`skips '${s.seriesDescription ?? '(no description)'}'`, () => {
      const d = selectSeries(mr(s));
      expect(d.selected).toBe(false);
      expect(d.reason).toMatch(reason);
    });
  }

  it('an exclude wins over an include (TI scout of an LGE protocol)', () => {
    const d = selectSeries(mr({ seriesDescription: 'LGE TI scout', protocolName: 'LGE_3D' }));
    expect(d).toEqual({
      selected: false,
      reason: "skipped: series description 'LGE TI scout' matches exclude pattern /scout/i",
    });
  });

  it('never selects our own SEG, SR, PR or anything we made', () => {
    expect(selectSeries({ modality: 'SEG', seriesDescription: 'LGE LA scar' })).toEqual({
      selected: false,
      reason: 'skipped: modality SEG is a derived or non-image object, never processed',
    });
    expect(selectSeries({ modality: 'SR', seriesDescription: 'LGE report' }).selected).toBe(false);
    expect(selectSeries({ modality: 'PR' }).selected).toBe(false);
    expect(
      selectSeries(mr({ seriesDescription: 'LGE 3D', sopClassUid: '1.2.840.10008.5.1.4.1.1.66.4' }))
        .reason,
    ).toBe(
      'skipped: SOP class 1.2.840.10008.5.1.4.1.1.66.4 is a derived or non-image object, never processed',
    );
    expect(selectSeries(mr({ seriesDescription: 'LGE 3D', manufacturer: 'LA Scar' })).reason).toBe(
      "skipped: made by this product (Manufacturer 'LA Scar'), never processed again",
    );
    expect(
      selectSeries(mr({ seriesDescription: 'LGE 3D', softwareVersions: 'lascar 0.1.0' })).reason,
    ).toMatch(
      /^skipped: made by this product \(SoftwareVersions 'lascar 0.1.0' matches \/lascar\/i\)/,
    );
  });

  it('skips other modalities, localizer and phase images, and series too small or too large', () => {
    expect(selectSeries({ modality: 'CT', seriesDescription: 'LGE' }).reason).toBe(
      'skipped: modality CT is not one of MR',
    );
    expect(selectSeries({ seriesDescription: 'LGE' }).reason).toBe(
      'skipped: the series has no modality',
    );
    expect(
      selectSeries(
        mr({ seriesDescription: 'LGE 3D', imageType: ['ORIGINAL', 'PRIMARY', 'LOCALIZER'] }),
      ).reason,
    ).toBe('skipped: image type ORIGINAL\\PRIMARY\\LOCALIZER contains LOCALIZER');
    expect(
      selectSeries(mr({ seriesDescription: 'PSIR', imageType: ['DERIVED', 'PRIMARY', 'P', 'IR'] }))
        .selected,
    ).toBe(false);
    expect(
      selectSeries(mr({ seriesDescription: 'LGE 2D SAX', numberOfInstances: 12 })).reason,
    ).toBe('skipped: 12 instance(s), outside the accepted 20-1024');
    // An enhanced (multi-frame) MR holds every slice in one instance: the count does not apply.
    expect(
      selectSeries(
        mr({
          seriesDescription: 'LGE 3D',
          numberOfInstances: 1,
          sopClassUid: '1.2.840.10008.5.1.4.1.1.4.1',
        }),
      ).selected,
    ).toBe(true);
    // Unknown counts and image types (some PACS report neither at series level) do not block.
    expect(selectSeries({ modality: 'MR', seriesDescription: 'LGE 3D' }).selected).toBe(true);
  });
});

describe('parseSelectionRules', () => {
  it('the default JSON parses to rules that decide like DEFAULT_LGE_RULES', () => {
    const parsed = parseSelectionRules(JSON.stringify(DEFAULT_LGE_RULES_JSON));
    for (const s of [
      { seriesDescription: 'DE_3D_LA' },
      { seriesDescription: 'CINE_SAX' },
      { seriesDescription: 'xyz' },
    ]) {
      expect(selectSeries(mr(s), parsed)).toEqual(selectSeries(mr(s), DEFAULT_LGE_RULES));
    }
  });

  it('replaces only the fields given', () => {
    const rules = parseSelectionRules({
      include: { seriesDescription: ['^lge_la_'] },
      instanceCount: { min: 40 },
      inversionTimeMs: { min: 200, max: 400 },
      modalities: ['mr'],
    });
    expect(rules.exclude).toBe(DEFAULT_LGE_RULES.exclude);
    expect(rules.modalities).toEqual(['MR']);
    expect(selectSeries(mr({ seriesDescription: 'LGE_LA_3D' }), rules).selected).toBe(true);
    expect(selectSeries(mr({ seriesDescription: 'LGE 3D PSIR' }), rules).selected).toBe(false);
    // protocol name patterns are still the defaults
    expect(
      selectSeries(mr({ seriesDescription: 'x', protocolName: 'DE_3D' }), rules).selected,
    ).toBe(true);
    expect(
      selectSeries(mr({ seriesDescription: 'LGE_LA_3D', numberOfInstances: 30 }), rules).reason,
    ).toBe('skipped: 30 instance(s), outside the accepted at least 40');
    expect(
      selectSeries(mr({ seriesDescription: 'LGE_LA_3D', inversionTimeMs: 150 }), rules).reason,
    ).toBe('skipped: inversion time 150 ms, outside the accepted 200-400 ms');
  });

  it('skips a coronal or sagittal stack by its slice orientation, with the angle', () => {
    const lge = { seriesDescription: 'LGE 3D' };
    const axial = [1, 0, 0, 0, 1, 0];
    // Flipped and transposed axial stacks are still axial.
    for (const iop of [axial, [0, -1, 0, -1, 0, 0], [-1, 0, 0, 0, -1, 0]]) {
      expect(selectSeries(mr({ ...lge, imageOrientationPatient: iop })).selected).toBe(true);
    }
    const t = (30 * Math.PI) / 180;
    const tilted30 = [1, 0, 0, 0, Math.cos(t), -Math.sin(t)];
    expect(selectSeries(mr({ ...lge, imageOrientationPatient: tilted30 })).selected).toBe(true);
    expect(selectSeries(mr({ ...lge, imageOrientationPatient: [1, 0, 0, 0, 0, -1] })).reason).toBe(
      'skipped: slice normal 90° from axial (coronal slices), beyond the accepted 45°: only axial LGE stacks are supported',
    );
    const t80 = (80 * Math.PI) / 180;
    expect(
      selectSeries(
        mr({ ...lge, imageOrientationPatient: [0, 1, 0, -Math.cos(t80), 0, Math.sin(t80)] }),
      ).reason,
    ).toMatch(/^skipped: slice normal 80° from axial \(sagittal slices\)/);
    // A site may accept less tilt than the pipeline's 45 degrees, never more.
    const strict = parseSelectionRules({ maxSliceTiltDeg: 20 });
    expect(selectSeries(mr({ ...lge, imageOrientationPatient: tilted30 }), strict).reason).toBe(
      'skipped: slice normal 30° from axial (axial slices), beyond the accepted 20°: only axial LGE stacks are supported',
    );
    expect(() => parseSelectionRules({ maxSliceTiltDeg: 90 })).toThrow(
      'selection rules: maxSliceTiltDeg must be a number of degrees from 0 to 45 (only axial stacks can be segmented), got 90',
    );
  });

  it('names the field in every error', () => {
    const bad: [unknown, RegExp][] = [
      ['{nope', /not valid JSON/],
      [[], /expected a JSON object/],
      [{ modalitis: ['MR'] }, /unknown field modalitis/],
      [{ modalities: 'MR' }, /modalities must be a list of strings/],
      [{ modalities: [] }, /modalities must name at least one modality/],
      [
        { include: { seriesDescription: ['(unclosed'] } },
        /include\.seriesDescription\[0\] is not a valid regular expression/,
      ],
      [{ exclude: { description: ['x'] } }, /unknown field exclude\.description/],
      [{ exclude: { protocolName: [3] } }, /exclude\.protocolName\[0\] must be a string, got 3/],
      [
        { instanceCount: { min: 50, max: 10 } },
        /instanceCount\.min \(50\) is above instanceCount\.max \(10\)/,
      ],
      [{ instanceCount: { min: '20' } }, /instanceCount\.min must be a number >= 0, got "20"/],
      [{ imageType: { forbiden: [] } }, /unknown field imageType\.forbiden/],
      [
        { ownObjects: { softwareVersions: ['['] } },
        /ownObjects\.softwareVersions\[0\] is not a valid regular expression/,
      ],
    ];
    for (const [json, message] of bad) {
      expect(() => parseSelectionRules(json)).toThrow(SelectionRulesError);
      expect(() => parseSelectionRules(json)).toThrow(message);
    }
  });
});
