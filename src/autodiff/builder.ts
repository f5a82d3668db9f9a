/**
 * GraphBuilder: emits ONNX nodes and constants with unique names, valid at the model's opset.
 * Gradient rules use it; every helper here picks the form of an op that the opset accepts
 * (axes as attribute before opset 13/18, as input after), so old models are never "upgraded".
 */

import type { NameScope } from "../onnx/graph.js";
import {
  type AttrValue,
  dataTypeOf,
  ModelStructureError,
  makeAttribute,
  makeNode,
  tensorToProto,
} from "../onnx/model.js";
import type { AttributeProto, NodeProto, TensorProto } from "../onnx/types.js";
import type { DType, Tensor } from "../tensor/tensor.js";
import { tensor } from "../tensor/tensor.js";

/** Static facts about one tensor: its element type and its dims as seen by the shape probe. */
export interface TensorInfo {
  dtype: DType | undefined;
  dims: number[];
}

/** Facts about every tensor of a graph, keyed by name (from a shape probe). */
export type ShapeInfo = Map<string, TensorInfo>;

/**
 * The device a gradient graph is built for. Rules pick formulations the device's execution
 * provider runs in place: "cpu" keeps onnxruntime CPU's fastest forms (Sum, MaxPool Indices,
 * MaxUnpool); "webgpu" avoids ops the WebGPU provider leaves on the CPU (no Sum, no MaxPool
 * Indices, no MaxUnpool/OneHot/scatter on data-sized tensors).
 */
export type GradientDevice = "cpu" | "webgpu";

/** Inputs (or outputs) per Concat/Split node in graphs built for WebGPU (a shader binds each as a storage buffer). */
export const WEBGPU_FAN_IN = 6;

/** Attributes given to {@link GraphBuilder.op}; `undefined` values are left out. */
export type Attrs = Record<string, AttrValue | undefined>;

/** Options of {@link GraphBuilder.op}. */
export interface OpOptions {
  /** Number of outputs (default 1). */
  outputs?: number;
  /** Base for output names. */
  name?: string;
  domain?: string;
  /** Attribute names that are FLOAT even when whole (alpha = 1). */
  floats?: string[];
}

/** Emits nodes and initializers for a graph transform. */
export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private constCache = new Map<string, string>();

  constructor(
    readonly scope: NameScope,
    /** Version of the default ONNX domain the model imports. */
    readonly opset: number,
    readonly info: ShapeInfo,
    /** Prefix for emitted names (e.g. "grad"). */
    readonly prefix = "pl",
    /** The device the graph is built for (see {@link GradientDevice}). */
    readonly device: GradientDevice = "cpu",
  ) {}

  /** A fresh tensor/node name. */
  fresh(base: string): string {
    return this.scope.fresh(`${this.prefix}/${base}`);
  }

  /** Emits one node; returns its output names. */
  opN(opType: string, inputs: string[], attrs: Attrs = {}, opts: OpOptions = {}): string[] {
    const n = opts.outputs ?? 1;
    const base = opts.name ?? opType;
    const outputs = Array.from({ length: n }, () => this.fresh(base));
    const attributes: AttributeProto[] = [];
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined) continue;
      attributes.push(makeAttribute(k, v, { float: opts.floats?.includes(k) }));
    }
    this.nodes.push(makeNode(opType, inputs, outputs, this.fresh(`${base}_node`), attributes, opts.domain));
    return outputs;
  }

  /** Emits one node with one output; returns the output name. */
  op(opType: string, inputs: string[], attrs: Attrs = {}, opts: OpOptions = {}): string {
    return this.opN(opType, inputs, attrs, opts)[0]!;
  }

  /**
   * Σ of same-shaped tensors: one Sum on the CPU; on WebGPU (whose provider has no Sum kernel,
   * so a Sum would run on the CPU with copies both ways) a balanced tree of Adds.
   */
  sum(parts: readonly string[], name = "Sum"): string {
    if (parts.length === 0) throw new ModelStructureError("sum of no tensors");
    if (parts.length === 1) return parts[0]!;
    if (this.device === "cpu") return this.op("Sum", [...parts], {}, { name });
    let level = [...parts];
    while (level.length > 1) {
      const next: string[] = [];
      for (let k = 0; k + 1 < level.length; k += 2)
        next.push(this.op("Add", [level[k]!, level[k + 1]!], {}, { name }));
      if (level.length % 2 === 1) next.push(level[level.length - 1]!);
      level = next;
    }
    return level[0]!;
  }

  /**
   * Concat along `axis`. On WebGPU a shader binds each input as a storage buffer and devices allow
   * few of them per shader (WebGPU guarantees 8), so long lists are joined in a tree of Concats of
   * at most {@link WEBGPU_FAN_IN} inputs; the CPU keeps one Concat.
   */
  concat(parts: readonly string[], axis: number): string {
    if (parts.length === 1) return parts[0]!;
    if (this.device === "cpu" || parts.length <= WEBGPU_FAN_IN)
      return this.op("Concat", [...parts], { axis });
    const groups: string[] = [];
    for (let k = 0; k < parts.length; k += WEBGPU_FAN_IN)
      groups.push(this.concat(parts.slice(k, k + WEBGPU_FAN_IN), axis));
    return this.concat(groups, axis);
  }

  /**
   * Splits `x` along `axis` into pieces of the given static sizes: one Split on the CPU (sizes as
   * input from opset 13, attribute before); on WebGPU, when there are more pieces than a shader
   * may bind outputs ({@link WEBGPU_FAN_IN}), one Slice per piece.
   */
  split(x: string, sizes: readonly number[], axis: number): string[] {
    if (sizes.length === 1) return [x];
    if (this.device !== "cpu" && sizes.length > WEBGPU_FAN_IN && this.opset >= 10) {
      let start = 0;
      return sizes.map((size) => {
        const piece = this.slice(x, [start], [start + size], [axis]);
        start += size;
        return piece;
      });
    }
    if (this.opset >= 13)
      return this.opN("Split", [x, this.int64s(sizes)], { axis }, { outputs: sizes.length });
    return this.opN("Split", [x], { axis, split: [...sizes] }, { outputs: sizes.length });
  }

  /** Records facts for a new tensor (so later rules and passes can query it). */
  setInfo(name: string, info: TensorInfo): void {
    this.info.set(name, info);
  }

  /** Facts about a forward tensor; throws a clear error when the probe did not see it. */
  infoOf(name: string): TensorInfo {
    const i = this.info.get(name);
    if (!i)
      throw new ModelStructureError(
        `no shape information for tensor "${name}" (the shape probe did not see it)`,
      );
    return i;
  }

  rank(name: string): number {
    return this.infoOf(name).dims.length;
  }

  dims(name: string): number[] {
    return this.infoOf(name).dims;
  }

  dtype(name: string): DType {
    const d = this.infoOf(name).dtype;
    if (!d) throw new ModelStructureError(`tensor "${name}" has an element type pathlens does not handle`);
    return d;
  }

  /** An initializer holding `t` (deduplicated by content for small tensors). */
  constant(t: Tensor, base = "const"): string {
    const key =
      t.data.length <= 16
        ? `${t.dtype}|${t.dims.join(",")}|${Array.from(t.data as ArrayLike<unknown>).join(",")}`
        : "";
    if (key) {
      const hit = this.constCache.get(key);
      if (hit) return hit;
    }
    const name = this.fresh(base);
    this.initializers.push(tensorToProto(name, t));
    if (key) this.constCache.set(key, name);
    this.info.set(name, { dtype: t.dtype, dims: [...t.dims] });
    return name;
  }

  /** A 1-D int64 constant. */
  int64s(values: readonly number[]): string {
    return this.constant(
      tensor(
        "int64",
        [values.length],
        BigInt64Array.from(values, (v) => BigInt(v)),
      ),
      "ints",
    );
  }

  /** A scalar int64 constant. */
  int64Scalar(value: number): string {
    return this.constant(tensor("int64", [], BigInt64Array.of(BigInt(value))), "int");
  }

  /** A scalar constant of a float dtype (matching the tensor it will meet). */
  scalar(value: number, dtype: DType): string {
    if (dtype === "float64") return this.constant(tensor("float64", [], Float64Array.of(value)), "c");
    if (dtype === "float32") return this.constant(tensor("float32", [], Float32Array.of(value)), "c");
    throw new ModelStructureError(`cannot make a ${dtype} scalar for a gradient`);
  }

  /** A scalar of the same float dtype as tensor `like`. */
  scalarLike(value: number, like: string): string {
    return this.scalar(value, this.dtype(like));
  }

  // ---- opset-aware helpers -------------------------------------------------------------

  /** ReduceSum over `axes` (axes as attribute before opset 13, input after). */
  reduceSum(x: string, axes: readonly number[], keepdims: boolean): string {
    if (axes.length === 0) return x;
    if (this.opset >= 13) return this.op("ReduceSum", [x, this.int64s(axes)], { keepdims: keepdims ? 1 : 0 });
    return this.op("ReduceSum", [x], { axes: [...axes], keepdims: keepdims ? 1 : 0 });
  }

  /** ReduceMean/ReduceMax/… (axes input from opset 18). */
  reduce(op: string, x: string, axes: readonly number[], keepdims: boolean): string {
    if (op === "ReduceSum") return this.reduceSum(x, axes, keepdims);
    if (this.opset >= 18) return this.op(op, [x, this.int64s(axes)], { keepdims: keepdims ? 1 : 0 });
    return this.op(op, [x], { axes: [...axes], keepdims: keepdims ? 1 : 0 });
  }

  unsqueeze(x: string, axes: readonly number[]): string {
    if (axes.length === 0) return x;
    if (this.opset >= 13) return this.op("Unsqueeze", [x, this.int64s(axes)]);
    return this.op("Unsqueeze", [x], { axes: [...axes] });
  }

  squeeze(x: string, axes: readonly number[]): string {
    if (axes.length === 0) return x;
    if (this.opset >= 13) return this.op("Squeeze", [x, this.int64s(axes)]);
    return this.op("Squeeze", [x], { axes: [...axes] });
  }

  shape(x: string): string {
    return this.op("Shape", [x]);
  }

  /** Reshape `x` to the runtime shape of `like`. */
  reshapeLike(x: string, like: string): string {
    return this.op("Reshape", [x, this.shape(like)]);
  }

  /** `x` cast to the element type of `like`. */
  castLike(x: string, like: string): string {
    return this.op("Cast", [x], { to: dataTypeOf(this.dtype(like)) });
  }

  /** Zeros with the runtime shape and dtype of `like`. */
  zerosLike(like: string): string {
    return this.op("Mul", [like, this.scalarLike(0, like)]);
  }

  /** Slice on static starts/ends/axes (attributes before opset 10, inputs after). */
  slice(x: string, starts: number[], ends: number[], axes: number[], steps?: number[]): string {
    if (this.opset >= 10) {
      const inputs = [x, this.int64s(starts), this.int64s(ends), this.int64s(axes)];
      if (steps) inputs.push(this.int64s(steps));
      return this.op("Slice", inputs);
    }
    if (steps?.some((s) => s !== 1)) throw new ModelStructureError("Slice with steps needs opset ≥ 10");
    return this.op("Slice", [x], { starts, ends, axes });
  }

  /**
   * Undoes numpy broadcasting: sums `g` (shaped like the broadcast result `result`) down to the
   * shape of `operand`. Leading axes are summed away; axes where the operand has size 1 and the
   * result does not are summed with keepdims. The final Reshape uses the operand's runtime shape,
   * so dynamic dimensions stay dynamic.
   */
  unbroadcast(g: string, operand: string, result: string): string {
    const od = this.dims(operand);
    const rd = this.dims(result);
    const lead = rd.length - od.length;
    const axes: number[] = [];
    for (let i = 0; i < lead; i++) axes.push(i);
    for (let i = 0; i < od.length; i++) if (od[i] === 1 && rd[i + lead] !== 1) axes.push(i + lead);
    if (axes.length === 0 && lead === 0) return g;
    const summed = this.reduceSum(g, axes, true);
    return this.reshapeLike(summed, operand);
  }
}
