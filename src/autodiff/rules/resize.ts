/**
 * Gradient rules: Resize (opset 10, 11–12, 13–17, 18+ input layouts) and Upsample (7–9).
 *
 * Resize of the two innermost axes is separable and linear in X: Y = R_h · X · R_wᵀ per image,
 * with R_a [out_a, in_a] depending only on sizes, scales and attributes. So dX = R_hᵀ · g · R_w,
 * two MatMuls (closed: MatMul's gradient is MatMul).
 *
 * The matrices are not re-derived here: each is obtained by resizing an identity basis with the
 * node's own op, attributes and scale for that axis (every other axis unscaled), so every mode
 * (nearest and its nearest_mode, linear, cubic, antialias) and every coordinate_transformation_mode
 * matches onnxruntime exactly. The basis is a constant (or depends on constant scales), so
 * onnxruntime folds it; its size is in_a² per axis. Axes whose size does not change are taken as
 * unscaled; tf_crop_and_resize (affine, not linear in X) is not supported.
 */
import { attrFloats, attrInts, attrString, ModelStructureError, makeAttribute } from "../../onnx/model.js";
import { tensor } from "../../tensor/tensor.js";
import type { GraphBuilder } from "../builder.js";
import type { GradientRule, RuleContext } from "../registry.js";

/** Where the node takes its scale or size per axis. */
type Target =
  | { kind: "scalesInput"; name: string }
  | { kind: "scalesAttr"; values: number[] }
  | { kind: "sizes" };

function resizeTarget(ctx: RuleContext): Target {
  const { b, node, opset } = ctx;
  if (node.opType === "Upsample") {
    if (opset >= 9) return { kind: "scalesInput", name: ctx.x(1) };
    const values = attrFloats(node, "scales");
    if (!values) throw new ModelStructureError("Upsample has no scales attribute");
    return { kind: "scalesAttr", values };
  }
  if (opset < 11) return { kind: "scalesInput", name: ctx.x(1) };
  const scales = ctx.x(2);
  // opset 11–12 pass an empty scales tensor when sizes are given
  if (scales && b.dims(scales)[0] !== 0) return { kind: "scalesInput", name: scales };
  if (!ctx.x(3)) throw new ModelStructureError("Resize has neither scales nor sizes");
  const policy = attrString(node, "keep_aspect_ratio_policy", "stretch");
  if (policy !== "stretch") {
    throw new ModelStructureError(
      `Resize with sizes and keep_aspect_ratio_policy = ${policy} is not supported`,
    );
  }
  return { kind: "sizes" };
}

/**
 * The interpolation matrix of axis `a` in the orientation MatMul needs: R_aᵀ [in, out] when
 * `transposed`, R_a [out, in] otherwise. Built by resizing an identity whose basis index runs
 * along another (unscaled) axis `basisAxis`.
 */
function interpolationMatrix(ctx: RuleContext, target: Target, a: number, transposed: boolean): string {
  const { b, node, opset } = ctx;
  const x = ctx.x(0);
  const xd = b.dims(x);
  const rank = xd.length;
  const n = xd[a]!;
  const out = b.dims(ctx.y(0))[a]!;
  const basisAxis = a === 0 ? 1 : 0;
  const basisDims = new Array<number>(rank).fill(1);
  basisDims[a] = n;
  basisDims[basisAxis] = n;
  const identity = tensor(b.dtype(x), basisDims);
  for (let i = 0; i < n; i++) (identity.data as Float32Array)[i * n + i] = 1;
  const basis = b.constant(identity, "resize_basis");

  // the axes the scales/sizes vector refers to (opset 18 `axes`, else all)
  const axesAttr = attrInts(node, "axes");
  const axes = axesAttr
    ? axesAttr.map((v) => (v < 0 ? v + rank : v))
    : Array.from({ length: rank }, (_, i) => i);
  let inputs: string[];
  let scalesAttr: number[] | undefined;
  if (target.kind === "scalesAttr") {
    scalesAttr = target.values.map((v, k) => (k === a ? v : 1));
    inputs = [basis];
  } else if (target.kind === "scalesInput") {
    // the node's scale for axis a, 1 for the others: scales·e + (1 − e) (scales are float32)
    const pick = axes.map((ax) => (ax === a ? 1 : 0));
    const vector = (v: number[], base: string) =>
      b.constant(tensor("float32", [v.length], Float32Array.from(v)), base);
    const scales = b.op("Add", [
      b.op("Mul", [target.name, vector(pick, "axis_pick")]),
      vector(
        pick.map((p) => 1 - p),
        "axis_keep",
      ),
    ]);
    inputs = opset < 11 ? [basis, scales] : [basis, roiInput(b, opset), scales];
  } else {
    const sizes = b.int64s(axes.map((ax) => (ax === a ? out : ax === basisAxis ? n : 1)));
    const emptyScales = opset < 13 ? b.constant(tensor("float32", [0]), "empty_scales") : "";
    inputs = [basis, roiInput(b, opset), emptyScales, sizes];
  }
  const resized = b.op(node.opType!, inputs);
  // same attributes as the forward node (mode, coordinate transform, nearest_mode, cubic…)
  const emitted = b.nodes[b.nodes.length - 1]!;
  emitted.attribute = node.attribute.filter((at) => at.name !== "scales");
  if (scalesAttr) emitted.attribute.push(makeAttribute("scales", scalesAttr, { float: true }));
  // resized has dims 1 except basisAxis (in) and a (out)
  const lowFirst = basisAxis < a; // [in, out] when the basis axis comes first
  const matrix = b.op("Reshape", [resized, b.int64s(lowFirst ? [n, out] : [out, n])]);
  return lowFirst === transposed ? matrix : b.op("Transpose", [matrix], { perm: [1, 0] });
}

/** The roi input of Resize 11+ ("" from 13, where it is optional; unused unless tf_crop_and_resize). */
function roiInput(b: GraphBuilder, opset: number): string {
  return opset >= 13 ? "" : b.constant(tensor("float32", [0]), "empty_roi");
}

const resize: GradientRule = {
  opTypes: ["Resize", "Upsample"],
  backward(ctx) {
    const { b, node } = ctx;
    if (!ctx.needs(0)) return [];
    const mode = attrString(node, "coordinate_transformation_mode", "");
    if (mode === "tf_crop_and_resize")
      throw new ModelStructureError("Resize with tf_crop_and_resize is not supported");
    const xd = b.dims(ctx.x(0));
    const yd = b.dims(ctx.y(0));
    const rank = xd.length;
    if (rank < 2) throw new ModelStructureError("Resize of a rank-1 tensor is not supported");
    const changed = xd.map((d, a) => d !== yd[a]);
    const inner = [rank - 2, rank - 1];
    changed.forEach((c, a) => {
      if (c && !inner.includes(a)) {
        throw new ModelStructureError(`Resize of axis ${a} is not supported (only the two innermost axes)`);
      }
    });
    const target = resizeTarget(ctx);
    let grad = ctx.dy(0)!;
    for (const a of inner) {
      if (!changed[a]) continue;
      // dX = R_hᵀ · g · R_w: left-multiply for the second-to-last axis, right-multiply for the last
      if (a === rank - 1) grad = b.op("MatMul", [grad, interpolationMatrix(ctx, target, a, false)]);
      else grad = b.op("MatMul", [interpolationMatrix(ctx, target, a, true), grad]);
    }
    return [grad];
  },
};

/** The resize family's rules. */
export const resizeRules: GradientRule[] = [resize];
