/**
 * Moving one axis of a tensor to another position (the other axes keep their order): how
 * sequence-first tensors (time × batch × …) become batch-first and back.
 */
import { allocate, stridesOf, type Tensor, tensor } from "./tensor.js";

/** The permutation (ONNX Transpose `perm`) that moves axis `from` to position `to` of a rank-`rank` tensor. */
export function moveAxisPerm(rank: number, from: number, to: number): number[] {
  const rest = Array.from({ length: rank }, (_, k) => k).filter((k) => k !== from);
  rest.splice(to, 0, from);
  return rest;
}

/** A copy of `t` with axis `from` moved to position `to` (out[…] = t[perm…], as ONNX Transpose). */
export function moveAxis<T extends Tensor>(t: T, from: number, to: number): T {
  const rank = t.dims.length;
  if (from === to) return t;
  const perm = moveAxisPerm(rank, from, to);
  const outDims = perm.map((p) => t.dims[p]!);
  const inStrides = stridesOf(t.dims);
  // stride in the source of each output axis
  const srcStrides = perm.map((p) => inStrides[p]!);
  const out = allocate(t.dtype, t.data.length) as T["data"];
  const src = t.data;
  const index = new Array<number>(rank).fill(0);
  let offset = 0;
  for (let i = 0; i < out.length; i++) {
    (out as Float64Array)[i] = (src as Float64Array)[offset]!;
    for (let k = rank - 1; k >= 0; k--) {
      index[k]!++;
      offset += srcStrides[k]!;
      if (index[k]! < outDims[k]!) break;
      offset -= srcStrides[k]! * outDims[k]!;
      index[k] = 0;
    }
  }
  return tensor(t.dtype, outDims, out as never) as T;
}
