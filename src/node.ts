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
export { type ExplainImageOptions, explainImage, type ImageExplanation } from "./explain/image.js";
export { checkPreprocess, type Preprocess, PreprocessError } from "./explain/preprocess.js";
export {
  type ExplainTabularOptions,
  explainTabular,
  type TabularExplanation,
  TabularInputError,
} from "./explain/tabular.js";
export * from "./index.js";
export { CsvError, type NumericTable, parseNumericCsv, readNumericCsv } from "./io/csv.js";
export { EXAMPLES_DIR, ExampleFileError, exampleFile } from "./io/examples.js";
export { decodeImage, encodePng, ImageDecodeError, type RgbaImage, readImage } from "./io/image.js";
export { loadModel, ModelFileError, saveModel, UnsafeExternalDataError } from "./io/model-file.js";
export { readNpy, writeNpy, writeNpyFiles } from "./io/npy.js";
export { nodeBackend } from "./runtime/node.js";
export { featureSignificance, type SignificanceResult } from "./stats/significance.js";
export { tCdf, tSurvival } from "./stats/t-distribution.js";
export { adjustPValues, ranks, welchTTest } from "./stats/tests.js";
export {
  type ExplainTextOptions,
  explainText,
  TextExplainError,
  type TextExplanation,
  type TextModel,
} from "./text/explain-text.js";
export { loadTextModel } from "./text/model-folder.js";
