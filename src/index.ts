/**
 * pathlens — path attributions (Integrated Gradients and its family) for ONNX models.
 * This entry is browser-safe: it never imports onnxruntime. Use `pathlens/node` or
 * `pathlens/web` for a ready backend.
 * @packageDocumentation
 */

export { type Baseline, gaussianBlur, resolveBaseline } from "./attribution/baselines.js";
export type { BatchAxesOption } from "./attribution/batch-axes.js";
export { BudgetError, type BudgetOptions, DEFAULT_MAX_PATH_POINTS } from "./attribution/budget.js";
export { ChunkPlan } from "./attribution/chunking.js";
export {
  type EigBaselineKind,
  type EigOptions,
  type EigPath,
  type EigResult,
  enhancedIntegratedGradients,
} from "./attribution/eig/eig.js";
export {
  closeBaselines,
  kMeansBaselines,
  medianBaselines,
  randomBaselines,
} from "./attribution/eig/group-baselines.js";
export { DisconnectedGraphError } from "./attribution/eig/neighbor-path.js";
export type { PathRule } from "./attribution/eig/path-attribution.js";
export type { Rows } from "./attribution/eig/rows.js";
export {
  AbortError,
  NonFiniteError,
  NonFloatInputError,
  OptionError,
  ShapeMismatchError,
  TargetError,
} from "./attribution/errors.js";
export {
  type ExpectedGradientsOptions,
  type ExpectedGradientsResult,
  expectedGradients,
} from "./attribution/expected-gradients.js";
export {
  type Attribution,
  type IntegratedGradientsOptions,
  integratedGradients,
} from "./attribution/ig.js";
export {
  type ExpectedHessiansOptions,
  expectedHessians,
  type IntegratedHessiansOptions,
  type InteractionOptions,
  type Interactions,
  integratedHessians,
} from "./attribution/interactions.js";
export type { MethodSettings } from "./attribution/metrics/explainers.js";
export type { ScorerOptions } from "./attribution/metrics/scorer.js";
export {
  type NoiseTunnelAttribution,
  type NoiseTunnelOptions,
  type NoiseTunnelType,
  noiseTunnel,
} from "./attribution/noise-tunnel.js";
export {
  evaluatePath,
  type PathAccumulation,
  type PathPoint,
  type PathPoints,
  type PathProblem,
  type Progress,
} from "./attribution/path-engine.js";
export type { PathSessionOptions } from "./attribution/path-session.js";
export * from "./attribution/paths.js";
export {
  QUADRATURE_METHODS,
  type Quadrature,
  QuadratureError,
  type QuadratureMethod,
  quadrature,
} from "./attribution/quadrature.js";
export { seedsForTarget, type Target } from "./attribution/targets.js";
export type { XraiSegmentOptions } from "./attribution/xrai-segments.js";
export {
  type Attrs,
  type GradientDevice,
  GraphBuilder,
  type OpOptions,
  type ShapeInfo,
  type TensorInfo,
  WEBGPU_FAN_IN,
} from "./autodiff/builder.js";
export type { ApplyContext } from "./autodiff/decompose.js";
export {
  type DecomposeContext,
  type DecomposeHints,
  type Decomposition,
  decomposedOps,
  decomposeModel,
  decompositionNeedsShapes,
  registerDecompositions,
} from "./autodiff/decompose.js";
export {
  type GradientModel,
  type GradientOptions,
  gradientModel,
  UnsupportedOpError,
} from "./autodiff/gradient.js";
export { IntegerPathError } from "./autodiff/integer-path.js";
export { lowPrecisionTypes, modelNotes, quantizedOpTypes } from "./autodiff/model-notes.js";
export {
  assertModelSupported,
  checkModel,
  type ModelCheckReport,
  type OpSupport,
  type OpSupportKind,
  UnsupportedModelError,
} from "./autodiff/op-support.js";
export { hasLowPrecision, widenLowPrecision } from "./autodiff/precision.js";
export { keepLowPrecision } from "./autodiff/precision-keep.js";
export {
  type GradientRule,
  type OuterScope,
  type RuleContext,
  registerRules,
  supportedOps,
} from "./autodiff/registry.js";
export { type SoftplusRewriteOptions, softplusRewrite } from "./autodiff/softplus.js";
export { PathlensError } from "./errors.js";
export { type ExplainImageOptions, explainImage, type ImageExplanation } from "./explain/image.js";
export type { AttributionSign } from "./explain/image-maps.js";
export { checkPreprocess, type Preprocess, PreprocessError } from "./explain/preprocess.js";
export { type ResampleFilter, resizeLikePil } from "./explain/resize.js";
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
  type TokenAttribution,
} from "./explain/text.js";
export type { TextAttributionOptions } from "./explain/text-attribution.js";
export type { EmbeddingChoice, EmbeddingKind } from "./explain/text-embeddings.js";
export type { TextTokenizer } from "./explain/text-encode.js";
export type { TextInteractions } from "./explain/text-explanation.js";
export type { NumericTable } from "./io/csv.js";
export type { RgbaImage } from "./io/image.js";
export { encodeNpy, NpyError, type NpyHeader, parseNpy, parseNpyHeader } from "./io/npy-format.js";
export { type BatchAxes, BatchAxisError, batchFirstModel } from "./onnx/batch-axes.js";
export type { ModelProblemKind } from "./onnx/checker.js";
export {
  assertWellFormedModel,
  findModelProblems,
  type ModelProblem,
  ModelShapeError,
  OpSchemaError,
  SUPPORTED_IR_VERSIONS,
  SUPPORTED_OPSETS,
  TensorDataError,
  UnsupportedModelVersionError,
} from "./onnx/checker.js";
export { decodeModel, encodeModel, ModelDecodeError } from "./onnx/codec.js";
export {
  type CutModel,
  cutModel,
  NameScope,
  pruneGraph,
  topologicalOrder,
  UnknownTensorError,
} from "./onnx/graph.js";
export { type ModelSpec, makeModel, type NodeSpec, type ValueSpec } from "./onnx/make.js";
export {
  type AttrValue,
  ModelStructureError,
  opsetOf,
  tensorFromProto,
  tensorToProto,
} from "./onnx/model.js";
export type * from "./onnx/types.js";
export { DataType } from "./onnx/types.js";
export { WireFormatError } from "./onnx/wire.js";
export type {
  Backend,
  ExecutionProviderConfig,
  GradientCache,
  Session,
  SessionOptions,
} from "./runtime/backend.js";
export { DeviceError, RuntimeError } from "./runtime/backend.js";
export { cachedBackend, type SessionCacheOptions } from "./runtime/cache.js";
export { FoldedInputChangedError, type FoldedModel, foldGivenValues } from "./runtime/fold-given.js";
export { foldShapeIfs } from "./runtime/fold-ifs.js";
export {
  type GradientResult,
  GradientSession,
  type GradientSessionOptions,
} from "./runtime/gradient-session.js";
export type { DeviceOptions } from "./runtime/ort.js";
export type { Phases } from "./runtime/phases.js";
export { probeFeeds, probeShapes } from "./runtime/probe.js";
export {
  featureSignificance,
  SignificanceError,
  type SignificanceOptions,
  type SignificanceResult,
} from "./stats/significance.js";
export { tCdf, tSurvival } from "./stats/t-distribution.js";
export { adjustPValues, type Correction, ranks, type WelchResult, welchTTest } from "./stats/tests.js";
export { Random } from "./tensor/random.js";
export * from "./tensor/tensor.js";
export type { ReportSection } from "./viz/html.js";
export {
  type ReportableResult,
  ReportError,
  type ReportOptions,
  renderReport,
  reportKind,
} from "./viz/report.js";
