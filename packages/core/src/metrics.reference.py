"""Reference for metrics.test.ts: the LAScarQS 2022 evaluation's medpy.metric.binary metrics,
rewritten inline over scipy/numpy (medpy itself is not installable here).

Usage: /usr/bin/python3 metrics.reference.py PRED.nii[.gz] TRUTH.nii[.gz] [PRED2 TRUTH2 ...]
Prints one JSON object per pair (a JSON list), with voxel spacing from the NIfTI header.
"""
import json
import sys

import nibabel as nib
import numpy as np
from scipy.ndimage import binary_erosion, distance_transform_edt, generate_binary_structure


def surface_distances(result, reference, spacing):
    # medpy.metric.binary.__surface_distances with connectivity=1
    footprint = generate_binary_structure(result.ndim, 1)
    result_border = result ^ binary_erosion(result, structure=footprint, iterations=1)
    reference_border = reference ^ binary_erosion(reference, structure=footprint, iterations=1)
    dt = distance_transform_edt(~reference_border, sampling=spacing)
    return dt[result_border]


def metrics(result, reference, spacing):
    tp = np.count_nonzero(result & reference)
    fp = np.count_nonzero(result & ~reference)
    fn = np.count_nonzero(~result & reference)
    tn = np.count_nonzero(~result & ~reference)
    out = {
        'dc': 2.0 * tp / (np.count_nonzero(result) + np.count_nonzero(reference)),
        'jc': float(tp) / float(np.count_nonzero(result | reference)),
        'sensitivity': tp / float(tp + fn),
        'specificity': tn / float(tn + fp),
    }
    hd1 = surface_distances(result, reference, spacing)
    hd2 = surface_distances(reference, result, spacing)
    out['hd'] = float(max(hd1.max(), hd2.max()))
    out['hd95'] = float(np.percentile(np.hstack((hd1, hd2)), 95))
    out['assd'] = float(np.mean((hd1.mean(), hd2.mean())))
    out['n_surface'] = [int(hd1.size), int(hd2.size)]
    return out


def main(paths):
    results = []
    for pred_path, truth_path in zip(paths[0::2], paths[1::2]):
        pred = nib.load(pred_path)
        truth = nib.load(truth_path)
        spacing = [float(z) for z in pred.header.get_zooms()[:3]]
        results.append(metrics(np.asarray(pred.dataobj) != 0, np.asarray(truth.dataobj) != 0, spacing))
    print(json.dumps(results))


if __name__ == '__main__':
    main(sys.argv[1:])
