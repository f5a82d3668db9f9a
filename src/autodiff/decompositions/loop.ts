/**
 * `Loop` with a trip count known when the model is built (a constant, or computed from shapes and
 * given values and folded by the runtime before decomposition) and a continuation condition that
 * is not computed from data: unrolled into one copy of the body per iteration. Loop-carried
 * values thread through the copies; scan outputs are stacked on a new leading axis.
 * Other Loops are left alone and the gradient transform says why ({@link loopBlocker}).
 */
import { attrGraph, describeNode, ModelStructureError } from "../../onnx/model.js";
import type { NodeProto } from "../../onnx/types.js";
import { type Tensor, tensor } from "../../tensor/tensor.js";
import type { Decomposition } from "../decompose.js";
import { inlineBody, MAX_UNROLLED_ITERATIONS, staticBodyBool } from "./loop-body.js";
import { scanBlocker } from "./scan.js";

type Constants = (name: string) => Tensor | undefined;

/** Iterations an unrollable Loop runs, or why it cannot be unrolled. */
function loopPlan(node: NodeProto, constant: Constants): { iterations: number } | { reason: string } {
  const body = attrGraph(node, "body");
  if (!body) return { reason: "it has no body graph" };
  const [m = "", cond = ""] = node.input;
  const mValue = m ? constant(m) : undefined;
  if (m && !mValue)
    return {
      reason: `its trip count "${m}" is computed from data values (only trip counts known when the model is built — constants, shapes, given inputs — are unrolled)`,
    };
  const condValue = cond ? constant(cond) : undefined;
  if (cond && !condValue) return { reason: `its initial condition "${cond}" is computed from data values` };
  const initial = condValue ? Boolean(Number(condValue.data[0])) : true;
  const condOut = body.output[0]?.name ?? "";
  const next = staticBodyBool(body, condOut, true, constant);
  if (next === undefined)
    return {
      reason: `its continuation condition (body output "${condOut}") is computed from data values (a while loop); only loops with a fixed trip count are unrolled`,
    };
  if (!m && next) return { reason: "it has neither a trip count nor a condition that stops it" };
  const max = mValue ? Number(mValue.data[0]) : 1;
  const iterations = !initial ? 0 : next ? max : Math.min(max, 1);
  if (iterations > MAX_UNROLLED_ITERATIONS)
    return { reason: `its trip count ${iterations} exceeds the unroll limit of ${MAX_UNROLLED_ITERATIONS}` };
  const scanOutputs = body.output.length - 1 - (node.input.length - 2);
  if (iterations === 0 && scanOutputs > 0 && node.output.slice(-scanOutputs).some((o) => o))
    return { reason: "it runs zero times and has scan outputs (empty tensors of unknown shape)" };
  return { iterations };
}

/** Why a Loop node cannot be unrolled (undefined when it can). */
export function loopBlocker(node: NodeProto, constant: Constants): string | undefined {
  const plan = loopPlan(node, constant);
  return "reason" in plan ? plan.reason : undefined;
}

/** The detail of the "no gradient rule" error for a control-flow node the transform met. */
export function controlFlowDetail(node: NodeProto, constant: Constants): string {
  const notRun =
    "it could be unrolled, but decompositions did not run on it (gradientModel alone does not decompose; GradientSession does)";
  if (node.opType === "Loop")
    return `this Loop cannot be differentiated: ${loopBlocker(node, constant) ?? notRun}`;
  if (node.opType === "Scan") return `this Scan cannot be differentiated: ${scanBlocker(node) ?? notRun}`;
  return "";
}

const loop: Decomposition = {
  opTypes: ["Loop"],
  applies: (node, constant) => loopBlocker(node, constant) === undefined,
  decompose(ctx) {
    const { node, b } = ctx;
    const plan = loopPlan(node, ctx.constantOf);
    if ("reason" in plan) throw new ModelStructureError(`${describeNode(node)}: ${plan.reason}`);
    const body = attrGraph(node, "body")!;
    let carried = node.input.slice(2);
    const scanCount = body.output.length - 1 - carried.length;
    const scans: string[][] = Array.from({ length: scanCount }, () => []);
    const yes = b.constant(tensor("bool", [], Uint8Array.of(1)), "true");
    for (let i = 0; i < plan.iterations; i++) {
      const outs = inlineBody(
        b,
        body,
        [b.int64Scalar(i), yes, ...carried],
        `${node.name || "loop"}/iter${i}`,
      );
      carried = outs.slice(1, 1 + carried.length);
      outs.slice(1 + carried.length).forEach((s, k) => scans[k]!.push(b.unsqueeze(s, [0])));
    }
    const finals = carried.map((c) => b.op("Identity", [c]));
    const stacked = scans.map((parts) => b.concat(parts, 0));
    return [...finals, ...stacked];
  },
};

/** Loop unrolling. */
export const loopDecompositions: Decomposition[] = [loop];
