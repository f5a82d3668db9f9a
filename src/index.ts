/**
 * pathlens — path attributions (Integrated Gradients and its family) for ONNX models.
 * This entry is browser-safe: it never imports onnxruntime. Use `pathlens/node` or
 * `pathlens/web` for a ready backend.
 * @packageDocumentation
 */

export { type Baseline, gaussianBlur, resolveBaseline } from "./attribution/baselines.js";
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
export {
  type NoiseTunnelAttribution,
  type NoiseTunnelOptions,
  type NoiseTunnelType,
  noiseTunnel,
} from "./attribution/noise-tunnel.js";
export { evaluatePath, type PathPoint, type PathProblem, type Progress } from "./attribution/path-engine.js";
export * from "./attribution/paths.js";
export {
  QUADRATURE_METHODS,
  type Quadrature,
  type QuadratureMethod,
  quadrature,
} from "./attribution/quadrature.js";
export { seedsForTarget, type Target } from "./attribution/targets.js";
export type { GradientDevice, ShapeInfo, TensorInfo } from "./autodiff/builder.js";
export {
  type DecomposeContext,
  type Decomposition,
  decomposedOps,
  decomposeModel,
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
export { hasLowPrecision, widenLowPrecision } from "./autodiff/precision.js";
export { type GradientRule, type RuleContext, registerRules, supportedOps } from "./autodiff/registry.js";
export { softplusRewrite } from "./autodiff/softplus.js";
export { PathlensError } from "./errors.js";
export { encodeNpy, NpyError, type NpyHeader, parseNpy, parseNpyHeader } from "./io/npy-format.js";
export { decodeModel, encodeModel, ModelDecodeError } from "./onnx/codec.js";
export { type CutModel, cutModel, pruneGraph, topologicalOrder, UnknownTensorError } from "./onnx/graph.js";
export { type ModelSpec, makeModel, type NodeSpec, type ValueSpec } from "./onnx/make.js";
export { ModelStructureError, opsetOf, tensorFromProto, tensorToProto } from "./onnx/model.js";
export type * from "./onnx/types.js";
export { DataType } from "./onnx/types.js";
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
export { probeFeeds, probeShapes } from "./runtime/probe.js";
export { Random } from "./tensor/random.js";
export * from "./tensor/tensor.js";
