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
export * from "./index.js";
export { CsvError, parseNumericCsv, readNumericCsv } from "./io/csv.js";
export { EXAMPLES_DIR, ExampleFileError, exampleFile } from "./io/examples.js";
export { decodeImage, encodePng, ImageDecodeError, readImage } from "./io/image.js";
export { loadModel, ModelFileError, saveModel, UnsafeExternalDataError } from "./io/model-file.js";
export { readNpy, writeNpy, writeNpyFiles } from "./io/npy.js";
export { type NodeBackendOptions, nodeBackend } from "./runtime/node.js";
export {
  formatPlacement,
  type NodePlacement,
  type PlacementReport,
  placementReport,
} from "./runtime/placement.js";
export { loadTextModel } from "./text/model-folder.js";
export {
  type ComparisonReportOptions,
  comparisonReport,
  comparisonSections,
  xraiFigure,
} from "./viz/compare.js";
export { visualize } from "./viz/visualize.js";
