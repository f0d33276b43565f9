/**
 * The LAScarQS 2022 challenge's file layout: one folder per case. Task 1 (post-ablation) cases
 * hold the image, the LA cavity and the scar; task 2 cases the image and the LA cavity. The 2022
 * release names the image `enhanced.nii.gz`; the 2018 atrial challenge and most derived datasets
 * call it `lgemri.nii.gz`: both are accepted, `lgemri` is what we write.
 */
export const LASCARQS_FILES = {
  image: 'lgemri.nii.gz',
  imageAlternatives: ['lgemri.nii.gz', 'enhanced.nii.gz', 'lgemri.nii', 'enhanced.nii'],
  laCavity: 'atriumSegImgMO.nii.gz',
  laCavityAlternatives: ['atriumSegImgMO.nii.gz', 'atriumSegImgMO.nii'],
  scar: 'scarSegImgM.nii.gz',
  scarAlternatives: ['scarSegImgM.nii.gz', 'scarSegImgM.nii'],
  /** Our phantoms' ground-truth numbers (not part of the challenge). */
  truth: 'truth.json',
} as const;
