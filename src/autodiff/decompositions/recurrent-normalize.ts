/**
 * Rewrites applied to LSTM / GRU / RNN nodes before a model is first run (shape probe, folding),
 * because onnxruntime or the probe cannot take them as they are:
 * - `layout = 1` (batch first inside the op): onnxruntime refuses to load it ("Batchwise recurrent
 *   operations (layout == 1) are not supported"). The node becomes the layout-0 op between
 *   Transposes, which the spec defines as equivalent: X and the initial states are transposed in,
 *   Y (seq, dirs, batch, hidden) → (batch, seq, dirs, hidden) and Y_h / Y_c out.
 * - A sequence length of 1 on a dynamic axis: the shape probe tiles dynamic axes of size 1 to 2
 *   (to see broadcasting), but the decomposition unrolls as many steps as the probe sees, so a
 *   model fed T = 1 would be unrolled for 2 steps and fail. The graph input axis that X's time axis
 *   comes from (through Transpose / Identity / Cast, as exporters write it) is declared fixed at
 *   the given size, so the probe leaves it alone.
 */
import { makeAttribute, makeNode } from "../../onnx/model.js";
import type { AttributeProto, ModelProto, NodeProto, ValueInfoProto } from "../../onnx/types.js";
import type { Tensor } from "../../tensor/tensor.js";

const RECURRENT = new Set(["LSTM", "GRU", "RNN"]);
/** Ops that pass the time axis through unchanged (Transpose permutes it). */
const PASS_THROUGH = new Set(["Identity", "Cast", "Dropout"]);

const attr = (n: NodeProto, name: string): AttributeProto | undefined =>
  n.attribute.find((a) => a.name === name);

const ints = (name: string, values: number[]): AttributeProto => makeAttribute(name, values);

/** True when the main graph has a recurrent node with layout 1. */
function hasLayout1(model: ModelProto): boolean {
  return model.graph!.node.some(
    (n) => RECURRENT.has(n.opType ?? "") && Number(attr(n, "layout")?.i ?? 0) === 1,
  );
}

/** The layout-1 recurrent nodes of `nodes` as layout-0 nodes between Transposes. */
function toLayout0(nodes: NodeProto[]): NodeProto[] {
  const out: NodeProto[] = [];
  for (const n of nodes) {
    if (!RECURRENT.has(n.opType ?? "") || Number(attr(n, "layout")?.i ?? 0) !== 1) {
      out.push(n);
      continue;
    }
    const base = n.name || `${n.opType}_${n.output.find((o) => o) ?? "node"}`;
    const transposed = (name: string, perm: number[], suffix: string) => {
      const t = `${base}/layout0/${suffix}`;
      out.push(makeNode("Transpose", [name], [t], `${t}/Transpose`, [ints("perm", perm)]));
      return t;
    };
    // X (batch, seq, in) → (seq, batch, in); initial_h / initial_c (batch, dirs, hidden) → (dirs, batch, hidden)
    const input = n.input.map((name, k) => {
      if (!name) return name;
      if (k === 0) return transposed(name, [1, 0, 2], "X");
      if (k === 5 || (n.opType === "LSTM" && k === 6)) return transposed(name, [1, 0, 2], `state${k}`);
      return name;
    });
    const output = n.output.map((name, k) => (name ? `${base}/layout0/out${k}` : name));
    out.push({
      ...n,
      input,
      output,
      attribute: n.attribute.filter((a) => a.name !== "layout"),
    });
    n.output.forEach((name, k) => {
      if (!name) return;
      // Y (seq, dirs, batch, hidden) → (batch, seq, dirs, hidden); Y_h, Y_c (dirs, batch, hidden) → (batch, dirs, hidden)
      const perm = k === 0 ? [2, 0, 1, 3] : [1, 0, 2];
      out.push(
        makeNode("Transpose", [output[k]!], [name], `${base}/layout0/out${k}/Transpose`, [
          ints("perm", perm),
        ]),
      );
    });
  }
  return out;
}

/** Graph inputs and axes that the time axis of a recurrent node's X comes from. */
function sequenceAxes(model: ModelProto): { input: string; axis: number }[] {
  const g = model.graph!;
  const producer = new Map<string, NodeProto>();
  for (const n of g.node) for (const o of n.output) if (o) producer.set(o, n);
  const inputs = new Set(g.input.map((i) => i.name!));
  for (const t of g.initializer) inputs.delete(t.name!);
  const found: { input: string; axis: number }[] = [];
  for (const n of g.node) {
    if (!RECURRENT.has(n.opType ?? "") || !n.input[0]) continue;
    // after toLayout0 every X is (seq, batch, in)
    let name = n.input[0];
    let axis = Number(attr(n, "layout")?.i ?? 0) === 1 ? 1 : 0;
    for (;;) {
      if (inputs.has(name)) {
        found.push({ input: name, axis });
        break;
      }
      const p = producer.get(name);
      if (!p) break;
      if (p.opType === "Transpose") {
        const perm = attr(p, "perm")?.ints.map(Number);
        if (!perm) break;
        axis = perm[axis]!;
      } else if (!PASS_THROUGH.has(p.opType ?? "")) break;
      name = p.input[0]!;
    }
  }
  return found;
}

/** Declares axis `axis` of input `vi` fixed at `size`. */
function pinAxis(vi: ValueInfoProto, axis: number, size: number): ValueInfoProto {
  const shape = vi.type?.tensorType?.shape;
  if (!shape?.dim[axis]) return vi;
  const dim = shape.dim.map((d, k) => (k === axis ? { ...d, dimValue: size, dimParam: undefined } : d));
  return { ...vi, type: { ...vi.type!, tensorType: { ...vi.type!.tensorType!, shape: { ...shape, dim } } } };
}

/**
 * `model` with its layout-1 recurrent nodes as layout-0 nodes between Transposes, and the input
 * axes that feed a recurrent sequence axis of size 1 in `feeds` declared fixed (see the file
 * comment). The same object when neither applies.
 */
export function normalizeRecurrent(model: ModelProto, feeds: Record<string, Tensor>): ModelProto {
  const g = model.graph;
  if (!g?.node.some((n) => RECURRENT.has(n.opType ?? ""))) return model;
  const pins = sequenceAxes(model).filter(({ input, axis }) => feeds[input]?.dims[axis] === 1);
  if (!hasLayout1(model) && pins.length === 0) return model;
  const input = g.input.map((vi) => {
    const p = pins.find((q) => q.input === vi.name);
    return p ? pinAxis(vi, p.axis, 1) : vi;
  });
  return { ...model, graph: { ...g, node: toLayout0(g.node), input } };
}
