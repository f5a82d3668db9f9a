/**
 * `Pad` in "reflect" or "edge" mode with constant, non-negative pads (opset 11 and later, no
 * `axes` input): rewritten per padded axis as Concat(border, x, border), the borders being Slices
 * (reversed for reflect, a Tile of the end element for edge), whose gradient rules exist. Exporters
 * emit reflect padding for STFT front ends (e.g. Silero VAD). Other Pads stay as they are.
 */
import { attrString } from "../../onnx/model.js";
import type { NodeProto } from "../../onnx/types.js";
import type { Tensor } from "../../tensor/tensor.js";
import type { Decomposition } from "../decompose.js";

/** The constant pads of a reflect/edge Pad this rewrite covers, or undefined. */
function constantPads(node: NodeProto, constant: (name: string) => Tensor | undefined): number[] | undefined {
  const mode = attrString(node, "mode", "constant");
  if (mode !== "reflect" && mode !== "edge") return undefined;
  if (node.input[3]) return undefined; // axes input (opset 18)
  const pads = node.input[1] ? constant(node.input[1]) : undefined;
  if (!pads) return undefined;
  const values = Array.from(pads.data as ArrayLike<number | bigint>, Number);
  return values.every((v) => v >= 0) ? values : undefined;
}

/** Largest end index for Slice ("to the end of the axis"). */
const TO_END = 2 ** 31 - 1;

const pad: Decomposition = {
  opTypes: ["Pad"],
  applies: (node, constant) => constantPads(node, constant) !== undefined,
  decompose(ctx) {
    const { node, b } = ctx;
    const pads = constantPads(node, ctx.constantOf)!;
    const reflect = attrString(node, "mode") === "reflect";
    const rank = pads.length / 2;
    let cur = ctx.x(0);
    for (let axis = 0; axis < rank; axis++) {
      const [before, after] = [pads[axis]!, pads[axis + rank]!];
      if (before === 0 && after === 0) continue;
      const edge = (start: number, end: number, count: number) => {
        const one = b.slice(cur, [start], [end], [axis]);
        const reps = Array.from({ length: rank }, (_, k) => (k === axis ? count : 1));
        return b.op("Tile", [one, b.int64s(reps)]);
      };
      const parts: string[] = [];
      if (before > 0) parts.push(reflect ? b.slice(cur, [before], [0], [axis], [-1]) : edge(0, 1, before));
      parts.push(cur);
      if (after > 0)
        parts.push(reflect ? b.slice(cur, [-2], [-2 - after], [axis], [-1]) : edge(-1, TO_END, after));
      cur = b.op("Concat", parts, { axis });
    }
    return [cur];
  },
};

/** Reflect and edge padding. */
export const padDecompositions: Decomposition[] = [pad];
