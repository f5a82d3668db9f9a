/**
 * pathlens for Node.js: everything in `pathlens`, plus the onnxruntime-node backend, file I/O
 * (models, .npy, images, CSV, text model folders) and the bundled examples.
 * @packageDocumentation
 */

export {
  type ComparedMethod,
  type CompareOptions,
  type Comparison,
  compareAttributions,
  type MethodComparison,
} from "./explain/compare.js";
export type { EmbeddingHints, EmbeddingLookup } from "./explain/text-embeddings.js";
export {
  EMBEDDING_CHOICES,
  type EmbeddingChoice,
  EmbeddingNotFoundError,
  findEmbeddings,
} from "./explain/text-embeddings.js";
export type { LabelExplanation, TokenAttribution, WordAttribution } from "./explain/text-explanation.js";
export { loadTextModel } from "./explain/text-model.js";
export type { LabelPrediction } from "./explain/text-multi-label.js";
export {
  type ExplainMultiLabelOptions,
  explainMultiLabel,
  type MultiLabelExplanation,
} from "./explain/text-multi-label.js";
export type { TokenPrediction } from "./explain/text-ner.js";
export { type Entity, type ExplainNerOptions, explainNer, type NerExplanation } from "./explain/text-ner.js";
export type { QaAnswer } from "./explain/text-qa.js";
export { type ExplainQaOptions, explainQa, type QaExplanation } from "./explain/text-qa.js";
export type { CandidatePrediction } from "./explain/text-zero-shot.js";
export {
  type ExplainZeroShotOptions,
  explainZeroShot,
  type ZeroShotExplanation,
} from "./explain/text-zero-shot.js";
export * from "./index.js";
export { CsvError, type NumericTable, parseNumericCsv, readNumericCsv } from "./io/csv.js";
export { EXAMPLES_DIR, ExampleFileError, exampleFile } from "./io/examples.js";
export { decodeImage, encodePng, ImageDecodeError, type RgbaImage, readImage } from "./io/image.js";
export type { LoadModelOptions } from "./io/model-file.js";
export { loadModel, ModelFileError, saveModel, UnsafeExternalDataError } from "./io/model-file.js";
export { assertWritableFolder, NonFiniteOutputError, readNpy, writeNpy, writeNpyFiles } from "./io/npy.js";
export { decodePng, MAX_IMAGE_PIXELS, PngFormatError } from "./io/png.js";
export type { FileErrorFactory } from "./io/regular-file.js";
export { FILE_SIZE_LIMITS, readJsonFile, readRegularFile } from "./io/regular-file.js";
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
export type { EigSettings, JobMethodSettings } from "./jobs/method.js";
export type { GroupSignificance } from "./jobs/stats.js";
export type { DatasetSummary } from "./jobs/store.js";
export type { JobSpec } from "./jobs/task.js";
export {
  CacheKeyError,
  DEFAULT_CACHE_BYTES,
  type DiskGradientCacheOptions,
  defaultCacheDir,
  diskGradientCache,
  gradientCacheFromEnv,
} from "./runtime/disk-cache.js";
export { hasNchwcNodes, nchwcBlockSize } from "./runtime/nchwc-block.js";
export { type NodeBackendOptions, nodeBackend } from "./runtime/node.js";
export { type OrtOptimizationLevel, onnxruntimeOptimized } from "./runtime/ort-optimize.js";
export {
  formatPlacement,
  type NodePlacement,
  type PlacementReport,
  placementReport,
} from "./runtime/placement.js";
export {
  type ComparisonReportOptions,
  comparisonReport,
  comparisonSections,
  xraiFigure,
} from "./viz/compare.js";
export type { VisualizeTextOptions } from "./viz/text-tasks.js";
export { type TextTaskExplanation, visualizeText } from "./viz/text-tasks.js";
export { visualize } from "./viz/visualize.js";
