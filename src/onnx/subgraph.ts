/**
 * Subgraphs (If branches, Loop and Scan bodies): what they read from the outer scope, and copying
 * them under new names (to inline a body, or to place a derived branch in another graph).
 */
import { nodeReads } from "./graph.js";
import type { GraphProto, NodeProto } from "./types.js";

/** Names a subgraph reads from the enclosing scopes (nested subgraphs included), each once. */
export function outerReads(g: GraphProto): string[] {
  const inner = new Set<string>([
    ...g.input.map((i) => i.name!),
    ...g.initializer.map((t) => t.name!),
    ...g.node.flatMap((n) => n.output),
  ]);
  const out = new Set<string>();
  for (const n of g.node) for (const r of nodeReads(n)) if (r && !inner.has(r)) out.add(r);
  for (const o of g.output) if (o.name && !inner.has(o.name)) out.add(o.name);
  return [...out];
}

/** Every name a graph defines (inputs, initializers, node outputs), nested subgraphs included. */
export function definedNamesDeep(g: GraphProto): Set<string> {
  const out = new Set<string>();
  const visit = (h: GraphProto) => {
    for (const i of h.input) if (i.name) out.add(i.name);
    for (const t of h.initializer) if (t.name) out.add(t.name);
    for (const n of h.node) {
      for (const o of n.output) if (o) out.add(o);
      for (const a of n.attribute) for (const s of [a.g, ...a.graphs]) if (s) visit(s);
    }
  };
  visit(g);
  return out;
}

/**
 * A copy of `g` with every tensor name in `rename` replaced (definitions and uses, at every
 * depth) and every node renamed by `nodeName`. Valid because ONNX forbids a subgraph to shadow
 * an outer name, so one name means one tensor throughout.
 */
export function renameGraphDeep(
  g: GraphProto,
  rename: ReadonlyMap<string, string>,
  nodeName: (n: NodeProto) => string,
): GraphProto {
  const m = (name: string) => (name ? (rename.get(name) ?? name) : name);
  return {
    ...g,
    input: g.input.map((v) => ({ ...v, name: m(v.name!) })),
    output: g.output.map((v) => ({ ...v, name: m(v.name!) })),
    valueInfo: g.valueInfo.map((v) => ({ ...v, name: m(v.name!) })),
    initializer: g.initializer.map((t) => ({ ...t, name: m(t.name!) })),
    node: g.node.map((n) => ({
      ...n,
      name: nodeName(n),
      input: n.input.map(m),
      output: n.output.map(m),
      attribute: n.attribute.map((a) =>
        a.g || a.graphs.length
          ? {
              ...a,
              g: a.g ? renameGraphDeep(a.g, rename, nodeName) : a.g,
              graphs: a.graphs.map((s) => renameGraphDeep(s, rename, nodeName)),
            }
          : a,
      ),
    })),
  };
}
