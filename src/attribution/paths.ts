/**
 * The public surface of the other path methods and the attribution metrics (re-exported by the
 * package entries): Guided IG, Blur IG, XRAI, infidelity, max-sensitivity, deletion / insertion.
 */
export {
  type BlurIGOptions,
  blurIntegratedGradients,
  blurSigmas,
  type ImageLayout,
} from "./blur-ig.js";
export { type BoundaryMode, type GaussianFilterOptions, gaussianFilter } from "./gaussian-filter.js";
export { type GuidedIGOptions, guidedIntegratedGradients, type PathMethodResult } from "./guided-ig.js";
export { type Curve, type CurveOptions, deletionCurve, insertionCurve } from "./metrics/curves.js";
export {
  explainWith,
  explanationFunction,
  type MethodSettings,
  PATH_METHODS,
  type PathMethod,
} from "./metrics/explainers.js";
export { type InfidelityOptions, infidelity, type PerturbFunction } from "./metrics/infidelity.js";
export {
  type ExplanationFunction,
  type SensitivityMaxOptions,
  type SensitivityResult,
  sensitivityMax,
} from "./metrics/sensitivity.js";
export { type XraiExplanation, type XraiOptions, type XraiResult, xrai } from "./xrai.js";
export {
  type RankedRegion,
  type RankRegionsOptions,
  type RegionRanking,
  rankRegions,
} from "./xrai-regions.js";
export { dilateDisk, type FelzenszwalbOptions, felzenszwalb, xraiSegments } from "./xrai-segments.js";
