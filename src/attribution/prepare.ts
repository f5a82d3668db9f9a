/**
 * What every attribution method does first: checks the inputs, cuts the model at a layer when
 * asked (computing the layer's value for the inputs and the baseline inputs), and sorts the
 * model inputs into attributed ones and pass-through ones.
 */
import { encodeModel } from "../onnx/codec.js";
import { bindInputs } from "../onnx/fold.js";
import { cutModel, UnknownTensorError } from "../onnx/graph.js";
import { declaredDims, ModelStructureError } from "../onnx/model.js";
import type { ModelProto } from "../onnx/types.js";
import type { Backend, SessionOptions } from "../runtime/backend.js";
import { isFloat, type Tensor } from "../tensor/tensor.js";
import { assertFinite, NonFloatInputError, OptionError, ShapeMismatchError } from "./errors.js";

/** The inputs of {@link prepareAttribution} (a subset of every method's options). */
export interface PrepareOptions {
  backend: Backend;
  inputs: Record<string, Tensor>;
  extra?: Record<string, Tensor>;
  layer?: string;
  baselineInputs?: Record<string, Tensor>;
  output?: string;
  session?: SessionOptions;
}

/** The model and tensors an attribution method works on. */
export interface PreparedAttribution {
  /** The model whose inputs are attributed (the tail of the cut with `layer`). */
  attributedModel: ModelProto;
  /** Attributed tensors (the layer's value with `layer`), batch axis 0. */
  inputs: Record<string, Tensor>;
  /** With `layer` and `baselineInputs`: the layer's value for the baseline inputs. */
  layerBaselines?: Record<string, Tensor>;
  /** Model inputs fed unchanged. */
  passthrough: Record<string, Tensor>;
  /** The explained output. */
  output: string;
  numExamples: number;
}

/** A model pathlens can attribute: a graph with inputs and outputs (else a typed error, not a TypeError). */
function assertExplainable(model: ModelProto): void {
  const g = model.graph;
  if (!g) throw new ModelStructureError("the model has no graph");
  if (g.input.length === 0)
    throw new ModelStructureError("the model's graph has no inputs: there is nothing to attribute to");
  if (g.output.length === 0)
    throw new ModelStructureError("the model's graph has no outputs: there is nothing to explain");
}

/** Validates and prepares an attribution (see {@link PreparedAttribution}). */
export async function prepareAttribution(
  model: ModelProto,
  options: PrepareOptions,
): Promise<PreparedAttribution> {
  const { backend } = options;
  assertExplainable(model);
  const allExtra = options.extra ?? {};
  // Scalar extras (a sample rate, a mode flag) have no batch axis: they hold for every example
  // and become constants of the model, so If nodes and loop counts they decide are folded.
  const graphInputNames = model.graph!.input.map((i) => i.name!);
  const scalars = Object.fromEntries(
    Object.entries(allExtra).filter(([k, t]) => t.dims.length === 0 && graphInputNames.includes(k)),
  );
  const extra = Object.fromEntries(Object.entries(allExtra).filter(([k]) => !(k in scalars)));
  model = bindInputs(model, scalars);
  let attributedModel = model;
  let inputs = options.inputs;
  let layerBaselines: Record<string, Tensor> | undefined;
  const numExamples = firstDim(inputs);
  checkBatchOnAxis0(model, { ...inputs, ...extra });

  for (const [k, t] of Object.entries({ ...inputs, ...extra })) {
    if (t.dims.length === 0 || t.dims[0] !== numExamples) {
      throw new ShapeMismatchError(
        `input "${k}" has shape [${t.dims.join(", ")}]; expected ${numExamples} rows on axis 0 like the others. ${BATCH_AXIS_HINT}`,
      );
    }
  }
  const graphInputs = model.graph!.input.map((i) => i.name!);
  if (options.layer) {
    const { head, tail } = cutModel(model, options.layer);
    const headSession = await backend.createSession(encodeModel(head), options.session);
    try {
      const headInputs = head.graph!.input.map((i) => i.name!);
      const pick = (src: Record<string, Tensor>) =>
        Object.fromEntries(headInputs.filter((n) => n in src).map((n) => [n, src[n]!]));
      const all = { ...extra, ...inputs };
      const x = (await headSession.run(pick(all), [options.layer]))[options.layer]!;
      if (x.dims[0] !== numExamples) {
        throw new ShapeMismatchError(
          `layer "${options.layer}" has shape [${x.dims.join(", ")}] for ${numExamples} example(s): its axis 0 is not the batch, so its values cannot be attributed per example (pathlens takes axis 0 as the batch axis); pick a layer whose axis 0 is the batch`,
        );
      }
      inputs = { [options.layer]: x };
      if (options.baselineInputs) {
        const bi = { ...all, ...options.baselineInputs };
        layerBaselines = {
          [options.layer]: (await headSession.run(pick(bi), [options.layer]))[options.layer]!,
        };
      }
    } finally {
      await headSession.dispose();
    }
    attributedModel = tail;
  } else {
    for (const k of Object.keys(inputs))
      if (!graphInputs.includes(k)) throw new UnknownTensorError(k, graphInputs, "model input");
  }
  for (const k of Object.keys(extra)) {
    if (!graphInputs.includes(k)) throw new UnknownTensorError(k, graphInputs, "model input (extra)");
  }
  checkDeclaredShapes(model, { ...options.inputs, ...extra });
  for (const [k, t] of Object.entries(inputs)) {
    if (!isFloat(t.dtype)) {
      throw new NonFloatInputError(
        `cannot attribute to "${k}": it holds ${t.dtype} values (ids or masks); attribute to a float tensor, e.g. the embedding output with layer`,
      );
    }
    assertFinite(t.data as Float32Array, `input "${k}"`);
  }
  const tailInputs = new Set(attributedModel.graph!.input.map((i) => i.name!));
  const passthrough = Object.fromEntries(
    Object.entries({ ...extra, ...options.inputs }).filter(([k]) => tailInputs.has(k) && !(k in inputs)),
  );
  const missing = [...tailInputs].filter(
    (n) =>
      !(n in inputs) && !(n in passthrough) && !attributedModel.graph!.initializer.some((t) => t.name === n),
  );
  if (missing.length) {
    throw new OptionError(
      `the model also needs input(s) ${missing.map((m) => `"${m}"`).join(", ")}: pass them in extra`,
    );
  }

  const output = options.output ?? attributedModel.graph!.output[0]!.name!;
  const outputs = attributedModel.graph!.output.map((o) => o.name!);
  if (!outputs.includes(output)) throw new UnknownTensorError(output, outputs, "output");

  return { attributedModel, inputs, layerBaselines, passthrough, output, numExamples };
}

/** Compares given tensors with the fixed dims the model declares for its inputs (clear errors before onnxruntime's). */
function checkDeclaredShapes(model: ModelProto, given: Record<string, Tensor>): void {
  for (const [name, t] of Object.entries(given)) {
    const declared = declaredDims(model.graph!.input.find((i) => i.name === name));
    if (!declared) continue;
    const bad =
      declared.length !== t.dims.length ||
      declared.some((d, k) => typeof d === "number" && d > 0 && d !== t.dims[k]);
    if (bad) {
      const want = declared.map((d) => (typeof d === "number" && d > 0 ? d : (d ?? "?"))).join(", ");
      const axis0 = typeof declared[0] === "number" && declared[0] > 0 && declared[0] !== t.dims[0];
      throw new ShapeMismatchError(
        `input "${name}" has shape [${t.dims.join(", ")}]; the model expects [${want}]${axis0 ? `. ${BATCH_AXIS_HINT}` : ""}`,
      );
    }
  }
}

/** Why a batch on another axis fails, and the option that fixes it. */
const BATCH_AXIS_HINT =
  "pathlens takes axis 0 of every input as the batch axis; if the model's batch is on another axis (sequence-first recurrent exports: time × batch × features, states as layers·directions × batch × hidden), name it with the batchAxes option (CLI: --batch-axis NAME=AXIS)";

/**
 * Refuses inputs whose declared axis 0 is a fixed size above 1 while another axis is dynamic:
 * the batch is on that other axis (torch's sequence-first exports declare [time, "batch", …]),
 * and stacking examples on axis 0 would fail later with a misleading message.
 */
function checkBatchOnAxis0(model: ModelProto, given: Record<string, Tensor>): void {
  for (const name of Object.keys(given)) {
    const declared = declaredDims(model.graph!.input.find((i) => i.name === name));
    if (!declared || typeof declared[0] !== "number" || declared[0] <= 1) continue;
    const dynamic = declared.findIndex((d, k) => k > 0 && typeof d !== "number");
    if (dynamic < 0) continue;
    const shown = declared.map((d) => d ?? "?").join(", ");
    throw new ShapeMismatchError(
      `input "${name}" is declared [${shown}]: axis 0 has the fixed size ${declared[0]} and axis ${dynamic} is dynamic. ${BATCH_AXIS_HINT}, e.g. batchAxes: { ${name}: ${dynamic} } (--batch-axis ${name}=${dynamic})`,
    );
  }
}

function firstDim(inputs: Record<string, Tensor>): number {
  const first = Object.values(inputs)[0];
  if (!first) throw new OptionError("no inputs to attribute");
  if (first.dims.length === 0) throw new ShapeMismatchError("inputs need a batch axis (axis 0)");
  return first.dims[0]!;
}
