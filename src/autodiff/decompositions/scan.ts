/**
 * `Scan` (opset 9 and later) unrolled over its scan length, read from the probed shapes: each
 * scan input is split into slices along its scan axis (in its direction), one copy of the body
 * runs per slice with the states threaded through, and the scan-output slices are stacked along
 * their axes (in their directions). Splitting and concatenating keep the gradient cheap: the
 * gradient of Split is a Concat.
 */
import { attrGraph, attrInt, attrInts, describeNode, ModelStructureError } from "../../onnx/model.js";
import type { NodeProto } from "../../onnx/types.js";
import type { Decomposition } from "../decompose.js";
import { inlineBody, MAX_UNROLLED_ITERATIONS } from "./loop-body.js";

/** Why a Scan node cannot be unrolled (undefined when it can, given the probed scan length). */
export function scanBlocker(node: NodeProto): string | undefined {
  const body = attrGraph(node, "body");
  if (!body) return "it has no body graph";
  if (node.input.length === body.input.length + 1)
    return "it is an opset-8 Scan (batch axis and sequence_lens), which is not unrolled";
  if (attrInt(node, "num_scan_inputs") === undefined) return "it has no num_scan_inputs attribute";
  return undefined;
}

const scan: Decomposition = {
  opTypes: ["Scan"],
  needsShapes: true,
  applies: (node) => scanBlocker(node) === undefined,
  decompose(ctx) {
    const { node, b } = ctx;
    const body = attrGraph(node, "body")!;
    const m = attrInt(node, "num_scan_inputs", 0);
    const n = node.input.length - m;
    const k = body.output.length - n;
    const inAxes = attrInts(node, "scan_input_axes", Array(m).fill(0));
    const inDirs = attrInts(node, "scan_input_directions", Array(m).fill(0));
    const outAxes = attrInts(node, "scan_output_axes", Array(k).fill(0));
    const outDirs = attrInts(node, "scan_output_directions", Array(k).fill(0));
    const scanInputs = node.input.slice(n);
    const lengths = scanInputs.map((x, j) => {
      const dims = ctx.shapes?.get(x)?.dims;
      if (!dims)
        throw new ModelStructureError(`${describeNode(node)}: no probed shape for scan input "${x}"`);
      const a = inAxes[j]! < 0 ? inAxes[j]! + dims.length : inAxes[j]!;
      return dims[a]!;
    });
    const length = lengths[0] ?? 0;
    if (lengths.some((l) => l !== length))
      throw new ModelStructureError(
        `${describeNode(node)}: scan inputs differ in length (${lengths.join(", ")})`,
      );
    if (length === 0 || length > MAX_UNROLLED_ITERATIONS)
      throw new ModelStructureError(
        `${describeNode(node)}: scan length ${length} is outside what is unrolled (1 to ${MAX_UNROLLED_ITERATIONS})`,
      );
    const slices = scanInputs.map((x, j) => {
      const attrs = ctx.opset >= 18 ? { axis: inAxes[j]!, num_outputs: length } : { axis: inAxes[j]! };
      const parts =
        length === 1
          ? [x]
          : b.device !== "cpu"
            ? b.split(x, new Array(length).fill(1), inAxes[j]!)
            : b.opN("Split", [x], attrs, { outputs: length });
      const squeezed = parts.map((p) => b.squeeze(p, [inAxes[j]!]));
      return inDirs[j] ? squeezed.reverse() : squeezed;
    });
    let states = node.input.slice(0, n);
    const outs: string[][] = Array.from({ length: k }, () => []);
    for (let t = 0; t < length; t++) {
      const results = inlineBody(
        b,
        body,
        [...states, ...slices.map((s) => s[t]!)],
        `${node.name || "scan"}/step${t}`,
      );
      states = results.slice(0, n);
      results.slice(n).forEach((r, j) => outs[j]!.push(b.unsqueeze(r, [outAxes[j]!])));
    }
    const stacked = outs.map((parts, j) => {
      const ordered = outDirs[j] ? [...parts].reverse() : parts;
      return ordered.length === 1 ? b.op("Identity", ordered) : b.concat(ordered, outAxes[j]!);
    });
    return [...states.map((s) => b.op("Identity", [s])), ...stacked];
  },
};

/** Scan unrolling. */
export const scanDecompositions: Decomposition[] = [scan];
