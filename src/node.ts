/**
 * pathlens for Node.js: everything in `pathlens`, plus the onnxruntime-node backend and file I/O.
 * @packageDocumentation
 */

export { type EigOptions, type EigResult, enhancedIntegratedGradients } from "./attribution/eig/eig.js";
export {
  closeBaselines,
  kMeansBaselines,
  medianBaselines,
  randomBaselines,
} from "./attribution/eig/group-baselines.js";
export {
  type CompareOptions,
  type Comparison,
  compareAttributions,
  type MethodComparison,
} from "./explain/compare.js";
export { type ExplainImageOptions, explainImage, type ImageExplanation } from "./explain/image.js";
export { checkPreprocess, type Preprocess, PreprocessError } from "./explain/preprocess.js";
export {
  type ExplainTabularOptions,
  explainTabular,
  type TabularExplanation,
  TabularInputError,
} from "./explain/tabular.js";
export {
  type ExplainTextOptions,
  explainText,
  TextExplainError,
  type TextExplanation,
  type TextModel,
} from "./explain/text.js";
export {
  EMBEDDING_CHOICES,
  type EmbeddingChoice,
  EmbeddingNotFoundError,
  findEmbeddings,
} from "./explain/text-embeddings.js";
export type { LabelExplanation, TokenAttribution, WordAttribution } from "./explain/text-explanation.js";
export { loadTextModel } from "./explain/text-model.js";
export {
  type ExplainMultiLabelOptions,
  explainMultiLabel,
  type MultiLabelExplanation,
} from "./explain/text-multi-label.js";
export { type Entity, type ExplainNerOptions, explainNer, type NerExplanation } from "./explain/text-ner.js";
export { type ExplainQaOptions, explainQa, type QaExplanation } from "./explain/text-qa.js";
export {
  type ExplainZeroShotOptions,
  explainZeroShot,
  type ZeroShotExplanation,
} from "./explain/text-zero-shot.js";
export * from "./index.js";
export { CsvError, type NumericTable, parseNumericCsv, readNumericCsv } from "./io/csv.js";
export { decodeImage, encodePng, ImageDecodeError, type RgbaImage, readImage } from "./io/image.js";
export { loadModel, ModelFileError, saveModel, UnsafeExternalDataError } from "./io/model-file.js";
export { readNpy, writeNpy, writeNpyFiles } from "./io/npy.js";
export {
  type DatasetJobResult,
  type ExplainDatasetOptions,
  explainDataset,
  type JobProgress,
} from "./jobs/engine.js";
export {
  DatasetError,
  JobChangedError,
  JobSettingsError,
  JobStateError,
  QueueError,
  RowFailedError,
} from "./jobs/errors.js";
export { runWorker, type WorkerOptions } from "./jobs/lazy.js";
export type { MethodSettings } from "./jobs/method.js";
export type { JobSpec } from "./jobs/task.js";
export {
  CacheKeyError,
  DEFAULT_CACHE_BYTES,
  type DiskGradientCacheOptions,
  defaultCacheDir,
  diskGradientCache,
  gradientCacheFromEnv,
} from "./runtime/disk-cache.js";
export { type NodeBackendOptions, nodeBackend } from "./runtime/node.js";
export { type OrtOptimizationLevel, onnxruntimeOptimized } from "./runtime/ort-optimize.js";
export {
  formatPlacement,
  type NodePlacement,
  type PlacementReport,
  placementReport,
} from "./runtime/placement.js";
export { featureSignificance, type SignificanceResult } from "./stats/significance.js";
export { tCdf, tSurvival } from "./stats/t-distribution.js";
export { adjustPValues, ranks, welchTTest } from "./stats/tests.js";
export { comparisonReport, comparisonSections, xraiFigure } from "./viz/compare.js";
export { type TextTaskExplanation, visualizeText } from "./viz/text-tasks.js";
