/**
 * The shape probe: runs a model once with every intermediate tensor exposed as an output and
 * records each tensor's element type and dims. Gradient rules use the ranks and the size-1 axes
 * (for undoing broadcasting); runtime shapes stay dynamic in the emitted graph.
 */
import type { ShapeInfo } from "../autodiff/builder.js";
import { encodeModel } from "../onnx/codec.js";
import { cloneModel, declaredDims, dtypeOf, elemTypeOf, ModelStructureError } from "../onnx/model.js";
import type { ModelProto } from "../onnx/types.js";
import { sizeOf, type Tensor, tensor } from "../tensor/tensor.js";
import type { Backend } from "./backend.js";

/**
 * Makes feeds whose dynamic axes of size 1 are tiled to 2 (a probe at size 1 would hide broadcasting).
 * Axes declared with a fixed size are left as they are.
 */
export function probeFeeds(model: ModelProto, feeds: Record<string, Tensor>): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(feeds)) {
    const vi = model.graph!.input.find((i) => i.name === name);
    const declared = declaredDims(vi);
    let cur = t;
    for (let axis = 0; axis < cur.dims.length; axis++) {
      const d = declared?.[axis];
      if (cur.dims[axis] === 1 && typeof d !== "number") cur = repeatAxis(cur, axis, 2);
    }
    out[name] = cur;
  }
  return out;
}

function repeatAxis(t: Tensor, axis: number, times: number): Tensor {
  const outer = sizeOf(t.dims.slice(0, axis));
  const inner = sizeOf(t.dims.slice(axis));
  const dims = [...t.dims];
  dims[axis] = dims[axis]! * times;
  const out = tensor(t.dtype, dims);
  const src = t.data as unknown as { subarray(a: number, b: number): ArrayLike<unknown> };
  const dst = out.data as unknown as { set(a: ArrayLike<unknown>, o: number): void };
  for (let o = 0; o < outer; o++) {
    const block = src.subarray(o * inner, (o + 1) * inner);
    for (let r = 0; r < times; r++) dst.set(block, (o * times + r) * inner);
  }
  return out;
}

/**
 * Runs `model` on `feeds` with all node outputs exposed; returns dtype and dims of every tensor
 * (inputs, initializers and node outputs).
 */
export async function probeShapes(
  backend: Backend,
  model: ModelProto,
  feeds: Record<string, Tensor>,
  /** `model` was checked already (or pathlens built it): onnxruntime loads it without the checker. */
  prechecked = false,
): Promise<ShapeInfo> {
  const info: ShapeInfo = new Map();
  const g = model.graph!;
  for (const t of g.initializer) info.set(t.name!, { dtype: dtypeOf(t.dataType), dims: t.dims.map(Number) });
  for (const [k, v] of Object.entries(feeds)) info.set(k, { dtype: v.dtype, dims: [...v.dims] });
  const probe = cloneModel(model);
  const pg = probe.graph!;
  const existing = new Set(pg.output.map((o) => o.name));
  const extra: string[] = [];
  for (const n of pg.node) {
    for (const o of n.output) {
      if (o && !existing.has(o)) {
        existing.add(o);
        extra.push(o);
      }
    }
  }
  pg.output = [...pg.output, ...extra.map((name) => ({ name, metadataProps: [] }))];
  const missing = g.input.filter((i) => !(i.name! in feeds) && !g.initializer.some((t) => t.name === i.name));
  if (missing.length) {
    throw new ModelStructureError(
      `the shape probe needs a value for input(s) ${missing.map((m) => `"${m.name}"`).join(", ")}`,
    );
  }
  const session = await backend.createSession(encodeModel(probe), { optimization: "disabled", prechecked });
  try {
    const out = await session.run(feeds);
    for (const [k, v] of Object.entries(out)) info.set(k, { dtype: v.dtype, dims: [...v.dims] });
  } finally {
    await session.dispose();
  }
  for (const o of g.output) {
    if (!info.has(o.name!)) info.set(o.name!, { dtype: dtypeOf(elemTypeOf(o)), dims: [] });
  }
  return info;
}
