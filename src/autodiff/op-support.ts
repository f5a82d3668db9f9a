/**
 * `checkModel`: what `pathlens check` prints — every op of a model (subgraphs included) with its
 * domain, opset and how pathlens differentiates it (a gradient rule, a decomposition into ops
 * with rules, or no gradient at all by nature), plus the checker's structural problems. It reads
 * the rule and decomposition tables at call time, so ops registered later are reported too.
 * Nothing is run: the cost is linear in the number of nodes.
 */
import { assertWellFormedModel, findModelProblems, type ModelProblem } from "../onnx/checker.js";
import { ModelStructureError, opsetOf } from "../onnx/model.js";
import type { GraphProto, ModelProto, NodeProto } from "../onnx/types.js";
import { decompositionFor } from "./decompose.js";
import { NON_DIFFERENTIABLE, ruleFor } from "./registry.js";
import "./decompositions/index.js";
import "./rules/index.js";

/**
 * How pathlens differentiates an op. "folded": an `If` whose condition depends only on shapes
 * and constants is replaced by its branch before differentiation (decided when the model runs,
 * so it does not count as missing here).
 */
export type OpSupportKind =
  | "rule"
  | "decomposition"
  | "non-differentiable"
  | "folded"
  | "function"
  | "missing";

/** One op type of a model and how it is differentiated. */
export interface OpSupport {
  opType: string;
  /** "" for the default ONNX domain. */
  domain: string;
  /** The version of the op's domain the model imports. */
  opset: number;
  /** Number of nodes with this op (subgraphs included). */
  count: number;
  /** Names of the first few such nodes, for messages. */
  nodes: string[];
  support: OpSupportKind;
  /**
   * True when some node of this op lies on a path from a graph input to a graph output not cut by
   * an op without gradient, i.e. the gradient transform will need it.
   */
  onGradientPath: boolean;
}

/** What {@link checkModel} finds. */
export interface ModelCheckReport {
  /** Every op type, in order of first appearance. */
  ops: OpSupport[];
  /** Structural problems (empty for a well-formed model). */
  problems: ModelProblem[];
  /** Ops on a gradient path that pathlens cannot differentiate. */
  missing: OpSupport[];
  /** True when there are no problems and nothing is missing. */
  ok: boolean;
}

/** A model pathlens cannot differentiate: lists every op that lacks a rule, at once. */
export class UnsupportedModelError extends ModelStructureError {
  override name = "UnsupportedModelError";
}

const normalDomain = (d: string | undefined) => (d === "ai.onnx" ? "" : (d ?? ""));

/**
 * Ops without a rule of their own that the decompositions of their readers absorb: a
 * QuantizeLinear read by a DequantizeLinear (a QDQ pair) or by a QLinear op is rewritten to float
 * together with its reader.
 */
const ABSORBED_BY_READERS = new Set(["QuantizeLinear"]);

function supportOf(
  n: NodeProto,
  functions: ReadonlySet<string>,
  readers: ReadonlyMap<string, NodeProto[]>,
): OpSupportKind {
  const op = n.opType ?? "";
  const domain = normalDomain(n.domain);
  if (ruleFor(op, domain)) return "rule";
  if (decompositionFor(op, domain)) return "decomposition";
  if (domain === "" && ABSORBED_BY_READERS.has(op)) {
    const users = n.output.flatMap((o) => (o ? (readers.get(o) ?? []) : []));
    if (users.length > 0 && users.every((u) => decompositionFor(u.opType ?? "", normalDomain(u.domain))))
      return "decomposition";
  }
  if (domain === "" && NON_DIFFERENTIABLE.has(op)) return "non-differentiable";
  if (domain === "" && op === "If") return "folded";
  if (functions.has(`${domain}::${op}`)) return "function";
  return "missing";
}

/** Nodes of the main graph on an input → output path not cut by a non-differentiable op. */
function gradientPathNodes(g: GraphProto): Set<NodeProto> {
  const forward = new Set<string>(g.input.map((i) => i.name ?? ""));
  const reads = new Map<string, NodeProto[]>();
  for (const n of g.node)
    for (const i of n.input) {
      if (!i) continue;
      let list = reads.get(i);
      if (!list) reads.set(i, (list = []));
      list.push(n);
    }
  const reached = new Set<NodeProto>();
  const stack = [...forward];
  while (stack.length) {
    for (const n of reads.get(stack.pop()!) ?? []) {
      if (reached.has(n)) continue;
      reached.add(n);
      if (normalDomain(n.domain) === "" && NON_DIFFERENTIABLE.has(n.opType ?? "")) continue;
      for (const o of n.output) {
        if (!o || forward.has(o)) continue;
        forward.add(o);
        stack.push(o);
      }
    }
  }
  const producer = new Map<string, NodeProto>();
  for (const n of g.node) for (const o of n.output) if (o) producer.set(o, n);
  const onPath = new Set<NodeProto>();
  const back = g.output.map((o) => o.name ?? "");
  const seen = new Set(back);
  while (back.length) {
    const p = producer.get(back.pop()!);
    if (!p || onPath.has(p) || !reached.has(p)) continue;
    if (normalDomain(p.domain) === "" && NON_DIFFERENTIABLE.has(p.opType ?? "")) continue;
    onPath.add(p);
    for (const i of p.input) {
      if (!i || seen.has(i)) continue;
      seen.add(i);
      back.push(i);
    }
  }
  return onPath;
}

/**
 * Lists every op of a model with how pathlens differentiates it, and every structural problem.
 * Does not run the model; linear in its size.
 */
export function checkModel(model: ModelProto): ModelCheckReport {
  const problems = findModelProblems(model);
  const functions = new Set(model.functions.map((f) => `${normalDomain(f.domain)}::${f.name ?? ""}`));
  const byKey = new Map<string, OpSupport>();
  const onPath = model.graph ? gradientPathNodes(model.graph) : new Set<NodeProto>();
  const visit = (g: GraphProto) => {
    const readers = new Map<string, NodeProto[]>();
    for (const n of g.node)
      for (const i of n.input) {
        if (!i) continue;
        const list = readers.get(i);
        if (list) list.push(n);
        else readers.set(i, [n]);
      }
    for (const n of g.node) {
      const domain = normalDomain(n.domain);
      const key = `${domain}::${n.opType ?? ""}`;
      let entry = byKey.get(key);
      const support = supportOf(n, functions, readers);
      // one entry per op type: missing wins when some of its nodes are not covered
      if (entry && support === "missing") entry.support = "missing";
      if (!entry) {
        entry = {
          opType: n.opType ?? "",
          domain,
          opset: opsetOf(model, domain),
          count: 0,
          nodes: [],
          support,
          onGradientPath: false,
        };
        byKey.set(key, entry);
      }
      entry.count++;
      if (entry.nodes.length < 3) entry.nodes.push(n.name || n.output[0] || "?");
      if (onPath.has(n)) entry.onGradientPath = true;
      for (const a of n.attribute) for (const sub of [a.g, ...a.graphs]) if (sub) visit(sub);
    }
  };
  if (model.graph) visit(model.graph);
  const ops = [...byKey.values()];
  const missing = ops.filter((o) => o.support === "missing" && o.onGradientPath);
  return { ops, problems, missing, ok: problems.length === 0 && missing.length === 0 };
}

const opName = (o: OpSupport) => (o.domain ? `${o.domain}.${o.opType}` : o.opType);

/**
 * Throws when a model is malformed or has ops on its gradient path that pathlens cannot
 * differentiate — naming all of them at once, with their nodes and opsets.
 * @throws UnsupportedModelError, or the checker's error for a structural problem
 */
export function assertModelSupported(model: ModelProto, source = "model"): ModelCheckReport {
  const report = checkModel(model);
  if (report.problems.length > 0) {
    assertWellFormedModel(model, source);
  }
  if (report.missing.length > 0) {
    const list = report.missing.map(
      (o) =>
        `${opName(o)} (opset ${o.opset}, node "${o.nodes[0]}"${o.count > 1 ? ` and ${o.count - 1} more` : ""})`,
    );
    throw new UnsupportedModelError(
      `${source}: pathlens cannot differentiate ${report.missing.length} op${report.missing.length > 1 ? "s" : ""}: ${list.join(", ")}; run \`pathlens check\` for the full table`,
    );
  }
  return report;
}
