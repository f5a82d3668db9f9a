/**
 * pathlens — path attributions (Integrated Gradients and its family) for ONNX models.
 * This entry is browser-safe: it never imports onnxruntime. Use `pathlens/node` or
 * `pathlens/web` for a ready backend.
 * @packageDocumentation
 */
export * from "./tensor/tensor.js";
export { Random } from "./tensor/random.js";
export { decodeModel, encodeModel, ModelDecodeError } from "./onnx/codec.js";
export type * from "./onnx/types.js";
export { DataType } from "./onnx/types.js";
export { ModelStructureError, opsetOf, tensorFromProto, tensorToProto } from "./onnx/model.js";
export { cutModel, type CutModel, pruneGraph, topologicalOrder, UnknownTensorError } from "./onnx/graph.js";
export { makeModel, type ModelSpec, type NodeSpec, type ValueSpec } from "./onnx/make.js";
export type { ShapeInfo, TensorInfo } from "./autodiff/builder.js";
export { type GradientModel, gradientModel, type GradientOptions, UnsupportedOpError } from "./autodiff/gradient.js";
export { type GradientRule, registerRules, type RuleContext, supportedOps } from "./autodiff/registry.js";
export type { Backend, Session, SessionOptions } from "./runtime/backend.js";
export { RuntimeError } from "./runtime/backend.js";
export { probeFeeds, probeShapes } from "./runtime/probe.js";
export { GradientSession, type GradientResult, type GradientSessionOptions } from "./runtime/gradient-session.js";
export { encodeNpy, NpyError, type NpyHeader, parseNpy, parseNpyHeader } from "./io/npy-format.js";
