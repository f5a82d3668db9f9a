/**
 * The activation functions of the recurrent ops (LSTM, GRU, RNN) as data: which of
 * activation_alpha / activation_beta each one reads, its defaults, and the primitive ops it
 * becomes. Defaults and the way alphas and betas are handed out follow onnxruntime's CPU kernels
 * (rnn_helpers.cc, rnn.cc), so the decomposed graph computes what onnxruntime computes.
 */
import { dataTypeOf, describeNode, ModelStructureError } from "../../onnx/model.js";
import type { NodeProto } from "../../onnx/types.js";
import type { DType } from "../../tensor/tensor.js";
import type { GraphBuilder } from "../builder.js";

/** One activation function with its resolved alpha and beta. */
export interface RecurrentActivation {
  /** Lower-case name as onnxruntime normalises it ("sigmoid", "scaledtanh", …). */
  readonly name: string;
  readonly alpha: number;
  readonly beta: number;
}

interface ActivationSpec {
  /** Reads activation_alpha. */
  readonly alpha: boolean;
  /** Reads activation_beta. */
  readonly beta: boolean;
  /**
   * Values used when the lists run out. onnxruntime's: LeakyRelu 0.01, HardSigmoid 0.2/0.5,
   * Elu 1; every other one 0 — including ThresholdedRelu, whose standalone ONNX op defaults to 1.
   */
  readonly defaults: readonly [number, number];
  /** Emits y = act(x) in primitive ops. */
  emit(b: GraphBuilder, x: string, a: RecurrentActivation, dtype: DType): string;
}

const ACTIVATIONS: Record<string, ActivationSpec> = {
  relu: { alpha: false, beta: false, defaults: [0, 0], emit: (b, x) => b.op("Relu", [x]) },
  tanh: { alpha: false, beta: false, defaults: [0, 0], emit: (b, x) => b.op("Tanh", [x]) },
  sigmoid: { alpha: false, beta: false, defaults: [0, 0], emit: (b, x) => b.op("Sigmoid", [x]) },
  softsign: { alpha: false, beta: false, defaults: [0, 0], emit: (b, x) => b.op("Softsign", [x]) },
  softplus: { alpha: false, beta: false, defaults: [0, 0], emit: (b, x) => b.op("Softplus", [x]) },
  affine: {
    alpha: true,
    beta: true,
    defaults: [0, 0],
    emit: (b, x, a, dt) => b.op("Add", [b.op("Mul", [x, b.scalar(a.alpha, dt)]), b.scalar(a.beta, dt)]),
  },
  leakyrelu: {
    alpha: true,
    beta: false,
    defaults: [0.01, 0],
    emit: (b, x, a) => b.op("LeakyRelu", [x], { alpha: a.alpha }, { floats: ["alpha"] }),
  },
  thresholdedrelu: {
    alpha: true,
    beta: false,
    defaults: [0, 0],
    emit: (b, x, a, dt) =>
      // the ThresholdedRelu op exists from opset 10; before, x·[x > α] (valid from opset 7)
      b.opset >= 10
        ? b.op("ThresholdedRelu", [x], { alpha: a.alpha }, { floats: ["alpha"] })
        : b.op("Mul", [
            x,
            b.op("Cast", [b.op("Greater", [x, b.scalar(a.alpha, dt)])], { to: dataTypeOf(dt) }),
          ]),
  },
  scaledtanh: {
    alpha: true,
    beta: true,
    defaults: [0, 0],
    emit: (b, x, a, dt) =>
      b.op("Mul", [b.op("Tanh", [b.op("Mul", [x, b.scalar(a.beta, dt)])]), b.scalar(a.alpha, dt)]),
  },
  hardsigmoid: {
    alpha: true,
    beta: true,
    defaults: [0.2, 0.5],
    emit: (b, x, a) =>
      b.op("HardSigmoid", [x], { alpha: a.alpha, beta: a.beta }, { floats: ["alpha", "beta"] }),
  },
  elu: {
    alpha: true,
    beta: false,
    defaults: [1, 0],
    emit: (b, x, a) => b.op("Elu", [x], { alpha: a.alpha }, { floats: ["alpha"] }),
  },
};

/** The names the spec allows, for messages. */
const NAMES =
  "Relu, Tanh, Sigmoid, Affine, LeakyRelu, ThresholdedRelu, ScaledTanh, HardSigmoid, Elu, Softsign, Softplus";

function stringsAttr(node: NodeProto, name: string): string[] | undefined {
  const a = node.attribute.find((x) => x.name === name);
  return a ? a.strings.map((s) => new TextDecoder().decode(s)) : undefined;
}

function floatsAttr(node: NodeProto, name: string): number[] {
  return Array.from(node.attribute.find((x) => x.name === name)?.floats ?? []);
}

/**
 * Reads and checks the `activations` attribute of a recurrent node: `perDirection` functions for
 * each of `directions` directions (defaults when absent), with alphas and betas resolved.
 * Names are matched case-insensitively, as onnxruntime's LSTM and GRU do (its RNN refuses lower case).
 */
export function readActivations(
  node: NodeProto,
  perDirection: number,
  directions: number,
  defaults: readonly string[],
): RecurrentActivation[] {
  const want = perDirection * directions;
  let names = stringsAttr(node, "activations");
  if (!names || names.length === 0) names = Array.from({ length: directions }, () => defaults).flat();
  // the RNN schema's default lists two entries (Tanh, Tanh); one direction takes the first
  if (perDirection === 1 && directions === 1 && names.length === 2) names = names.slice(0, 1);
  if (names.length !== want)
    throw new ModelStructureError(
      `${describeNode(node)}: attribute "activations" has ${names.length} entries; ` +
        `${directions} direction(s) need ${want}`,
    );
  const alphas = floatsAttr(node, "activation_alpha");
  const betas = floatsAttr(node, "activation_beta");
  let ai = 0;
  let bi = 0;
  return names.map((raw) => {
    const name = raw.toLowerCase();
    const spec = ACTIVATIONS[name];
    if (!spec)
      throw new ModelStructureError(
        `${describeNode(node)}: attribute "activations" has "${raw}", which is not one of ${NAMES}`,
      );
    const alpha = spec.alpha ? (alphas[ai++] ?? spec.defaults[0]) : 0;
    const beta = spec.beta ? (betas[bi++] ?? spec.defaults[1]) : 0;
    return { name, alpha, beta };
  });
}

/** Emits y = act(x) for a resolved activation. */
export function applyActivation(b: GraphBuilder, x: string, act: RecurrentActivation, dtype: DType): string {
  return ACTIVATIONS[act.name]!.emit(b, x, act, dtype);
}
