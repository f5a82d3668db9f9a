/**
 * A model checker run before onnxruntime sees a model (as `onnx.checker` does), so a malformed
 * model fails with one line naming the tensor, node or field at fault instead of onnxruntime's
 * C++ diagnostics. Every pass is linear in the size of the model (maps, no rescans).
 *
 * Checked: IR version and opset imports within what onnxruntime 1.30 loads; every initializer,
 * Constant value and tensor attribute (type, dims, data length — see checker-tensors.ts); every
 * graph input/output typed with dims in range; every node input defined (in its graph, an
 * enclosing graph for subgraphs, or an initializer); each tensor produced once; every graph
 * output produced; no cycles; Constant nodes with one output and one value; external data kept
 * inside the model's folder; cheap static shape checks (checker-shapes.ts).
 */
import { staticShapeProblems } from "./checker-shapes.js";
import { firstNaN, tensorProblems } from "./checker-tensors.js";
import { ModelStructureError, opsetOf } from "./model.js";
import { declaredElementTypes, opSchemaProblems } from "./op-schemas.js";
import type { GraphProto, ModelProto, NodeProto, TensorProto, TypeProto, ValueInfoProto } from "./types.js";

/** Kinds of problem the checker reports, one error class each. */
export type ModelProblemKind = "version" | "tensor" | "graph" | "shape" | "schema";

/** One problem found in a model. */
export interface ModelProblem {
  kind: ModelProblemKind;
  /** One line a user understands, naming the tensor / node / field. */
  message: string;
}

/** A model whose IR version or opset imports onnxruntime 1.30 cannot load. */
export class UnsupportedModelVersionError extends ModelStructureError {
  override name = "UnsupportedModelVersionError";
}

/** An initializer, Constant value or tensor attribute whose type, dims or data disagree. */
export class TensorDataError extends ModelStructureError {
  override name = "TensorDataError";
}

/** A node that breaks its op's schema: inputs, attributes or element types (op-schemas.ts). */
export class OpSchemaError extends ModelStructureError {
  override name = "OpSchemaError";
}

/** A static shape mismatch between a node's inputs (Conv channels vs weight, Gemm bias, …). */
export class ModelShapeError extends ModelStructureError {
  override name = "ModelShapeError";
}

/** IR versions onnxruntime 1.30 loads (IR 3 introduced opset_import; 13 is its newest). */
export const SUPPORTED_IR_VERSIONS = { min: 3, max: 13 } as const;

/** Newest opset of each domain onnxruntime 1.30 registers kernels for. */
export const SUPPORTED_OPSETS: Readonly<Record<string, number>> = {
  "": 26,
  "ai.onnx.ml": 5,
  "com.microsoft": 1,
  "com.microsoft.nchwc": 1,
  "ai.onnx.preview.training": 1,
};

/** Oldest default-domain opset onnxruntime 1.30 has kernels for (its documented minimum). */
export const MIN_DEFAULT_OPSET = 7;

/** Highest TensorProto.DataType onnxruntime 1.30 knows (26: INT2). */
const MAX_ELEMENT_TYPE = 26;

const normalDomain = (d: string | undefined) => (d === "ai.onnx" ? "" : (d ?? ""));

function versionProblems(model: ModelProto): string[] {
  const out: string[] = [];
  const ir = model.irVersion === undefined ? undefined : Number(model.irVersion);
  const { min, max } = SUPPORTED_IR_VERSIONS;
  if (ir === undefined) out.push("the model has no ir_version");
  else if (ir < min || ir > max)
    out.push(`IR version ${ir} is not supported (onnxruntime 1.30 loads ${min} to ${max})`);
  const seen = new Set<string>();
  for (const o of model.opsetImport) {
    const d = normalDomain(o.domain);
    const v = Number(o.version ?? 0);
    const name = d || "ai.onnx";
    if (seen.has(d)) out.push(`opset_import lists domain "${name}" twice`);
    seen.add(d);
    const newest = SUPPORTED_OPSETS[d];
    if (!Number.isSafeInteger(v) || v < 1)
      out.push(`opset_import: domain "${name}" has invalid version ${String(o.version)}`);
    else if (d === "" && v < MIN_DEFAULT_OPSET)
      out.push(
        `opset_import: "ai.onnx" version ${v} is older than onnxruntime 1.30 runs (${MIN_DEFAULT_OPSET})`,
      );
    else if (newest !== undefined && v > newest)
      out.push(
        `opset_import: domain "${name}" version ${v} is newer than onnxruntime 1.30 supports (${newest})`,
      );
  }
  if (!seen.has("")) out.push('opset_import has no entry for the default domain "ai.onnx"');
  return out;
}

function typeProblems(t: TypeProto | undefined, what: string): string[] {
  if (!t) return [`${what} has no type`];
  const tensor = t.tensorType ?? t.sparseTensorType;
  if (tensor) {
    if (!tensor.elemType) return [`${what} has no element type`];
    if (tensor.elemType < 0 || tensor.elemType > MAX_ELEMENT_TYPE)
      return [`${what} has unknown element type ${tensor.elemType}`];
    for (const d of tensor.shape?.dim ?? []) {
      if (d.dimValue === undefined) continue;
      const v = BigInt(d.dimValue);
      if (v < 0n || v > 2n ** 53n) return [`${what} has dimension ${v}, out of range`];
    }
    return [];
  }
  if (t.sequenceType) return typeProblems(t.sequenceType.elemType, `${what} (sequence element)`);
  if (t.optionalType) return typeProblems(t.optionalType.elemType, `${what} (optional element)`);
  if (t.mapType)
    return t.mapType.keyType
      ? typeProblems(t.mapType.valueType, `${what} (map value)`)
      : [`${what} has a map type without a key type`];
  return [`${what} has an empty type`];
}

function valueInfoProblems(v: ValueInfoProto, role: string, typed: boolean): string[] {
  if (!v.name) return [`a graph ${role} has no name`];
  return typed || v.type ? typeProblems(v.type, `graph ${role} "${v.name}"`) : [];
}

function describe(n: NodeProto, index: number): string {
  return `${n.opType || "?"} node "${n.name || n.output[0] || `#${index}`}"`;
}

/** Collects problems of one graph; `outer` holds the names visible from enclosing graphs. */
class GraphChecker {
  constructor(
    private readonly problems: ModelProblem[],
    private readonly imported: ReadonlySet<string>,
    /** `domain::name` of the model's local functions (custom-domain ops they define). */
    private readonly functions: ReadonlySet<string>,
    /** The default-domain opset, for the op-schema pass. */
    private readonly opset: number,
  ) {}

  private add(kind: ModelProblemKind, message: string): void {
    if (this.problems.length < 1000) this.problems.push({ kind, message });
  }

  check(g: GraphProto, outer: ReadonlySet<string>, top: boolean): void {
    const where = top ? "" : ` (in subgraph "${g.name ?? ""}")`;
    const defined = new Set<string>();
    for (const v of g.input) {
      for (const p of valueInfoProblems(v, "input", top)) this.add("graph", p + where);
      if (v.name) defined.add(v.name);
    }
    for (const t of g.initializer) this.tensor(t, `initializer "${t.name ?? ""}"${where}`, defined);
    const producedBy = new Map<string, number>();
    g.node.forEach((n, k) => {
      for (const o of n.output) {
        if (!o) continue;
        if (producedBy.has(o) || defined.has(o))
          this.add("graph", `tensor "${o}" is defined more than once (again by ${describe(n, k)})${where}`);
        producedBy.set(o, k);
      }
    });
    const visible = (name: string) => defined.has(name) || producedBy.has(name) || outer.has(name);
    // What a subgraph sees: every name of the enclosing scopes, built once per graph, on demand.
    let scope: Set<string> | undefined;
    const scopeOf = () => {
      if (!scope) scope = new Set([...outer, ...defined, ...producedBy.keys()]);
      return scope;
    };
    g.node.forEach((n, k) => this.node(n, k, visible, where, scopeOf));
    if (top && g.output.length === 0) this.add("graph", "the graph has no outputs");
    for (const v of g.output) {
      // Outputs may be untyped (onnxruntime infers them; pathlens's probes add such outputs).
      for (const p of valueInfoProblems(v, "output", false)) this.add("graph", p + where);
      if (v.name && !visible(v.name))
        this.add(
          "graph",
          `graph output "${v.name}" is not produced by any node, input or initializer${where}`,
        );
    }
    this.cycles(g, defined, producedBy, where);
    if (this.opset >= MIN_DEFAULT_OPSET) {
      const types = top ? declaredElementTypes(g) : undefined;
      const local = new Set([...this.functions].filter((f) => f.startsWith("::")).map((f) => f.slice(2)));
      for (const p of opSchemaProblems(g, this.opset, types, where, local)) this.add("schema", p);
    }
    if (top) for (const p of staticShapeProblems(g)) this.add("shape", p);
  }

  private tensor(t: TensorProto, what: string, defined?: Set<string>): void {
    if (defined) {
      if (!t.name) this.add("tensor", `an initializer has no name`);
      else defined.add(t.name);
    }
    const problems = tensorProblems(t, what);
    for (const p of problems) this.add("tensor", p);
    const nan = problems.length === 0 ? firstNaN(t) : -1;
    if (nan >= 0) this.add("tensor", `${what} holds NaN at element ${nan}: the model's weights are corrupt`);
    for (const e of t.externalData) {
      const loc = e.key === "location" ? (e.value ?? "") : undefined;
      if (
        loc !== undefined &&
        (loc.startsWith("/") ||
          loc.startsWith("\\") ||
          /^[a-zA-Z]:/.test(loc) ||
          loc.split(/[\\/]/).includes(".."))
      )
        this.add("tensor", `${what}: external data location "${loc}" leaves the model's folder`);
    }
  }

  private node(
    n: NodeProto,
    k: number,
    visible: (name: string) => boolean,
    where: string,
    scopeOf: () => ReadonlySet<string>,
  ): void {
    const what = describe(n, k) + where;
    if (!n.opType) this.add("graph", `node #${k} has no op_type${where}`);
    const domain = normalDomain(n.domain);
    if (!this.imported.has(domain))
      this.add("version", `${what} uses domain "${domain}", which the model does not import`);
    else if (SUPPORTED_OPSETS[domain] === undefined && !this.functions.has(`${domain}::${n.opType}`))
      this.add("version", `${what} is in domain "${domain}", which onnxruntime 1.30 does not provide`);
    for (const i of n.input)
      if (i && !visible(i))
        this.add("graph", `${what} reads "${i}", which no node, input or initializer defines`);
    if (n.output.length === 0 || n.output.every((o) => !o)) this.add("graph", `${what} has no output`);
    if (n.opType === "Constant" && domain === "") {
      if (n.output.length !== 1) this.add("graph", `${what} must have exactly one output`);
      const values = n.attribute.filter((a) => a.name?.startsWith("value") || a.name === "sparse_value");
      if (values.length !== 1)
        this.add("graph", `${what} must have exactly one value attribute, has ${values.length}`);
    }
    for (const a of n.attribute) {
      const aw = `attribute "${a.name ?? ""}" of ${what}`;
      if (!a.name) this.add("graph", `${what} has an attribute without a name`);
      if (a.t) this.tensor(a.t, aw);
      for (const t of a.tensors) this.tensor(t, aw);
      const subgraphs = [a.g, ...a.graphs].filter((g): g is GraphProto => !!g);
      for (const g of subgraphs) this.check(g, scopeOf(), false);
    }
  }

  /** Kahn's algorithm over in-graph producers: nodes left over sit on a cycle. */
  private cycles(
    g: GraphProto,
    defined: ReadonlySet<string>,
    producedBy: ReadonlyMap<string, number>,
    where: string,
  ): void {
    const pending = new Int32Array(g.node.length);
    const readers = new Map<number, number[]>();
    g.node.forEach((n, k) => {
      for (const i of new Set(n.input)) {
        const p = i && !defined.has(i) ? producedBy.get(i) : undefined;
        if (p === undefined) continue;
        pending[k]!++;
        let r = readers.get(p);
        if (!r) readers.set(p, (r = []));
        r.push(k);
      }
    });
    const ready: number[] = [];
    pending.forEach((c, k) => c === 0 && ready.push(k));
    for (let j = 0; j < ready.length; j++)
      for (const r of readers.get(ready[j]!) ?? []) if (--pending[r]! === 0) ready.push(r);
    if (ready.length < g.node.length) {
      const k = pending.findIndex((c) => c > 0);
      this.add("graph", `the graph has a cycle through ${describe(g.node[k]!, k)}${where}`);
    }
  }
}

/**
 * Every problem the checker finds in a model (at most 1000), without running it.
 * Linear in the number of nodes, tensors and attributes.
 */
export function findModelProblems(model: ModelProto): ModelProblem[] {
  const problems: ModelProblem[] = versionProblems(model).map((message) => ({ kind: "version", message }));
  const imported = new Set(model.opsetImport.map((o) => normalDomain(o.domain)));
  if (!model.graph) problems.push({ kind: "graph", message: "the model has no graph" });
  else {
    const functions = new Set(model.functions.map((f) => `${normalDomain(f.domain)}::${f.name ?? ""}`));
    new GraphChecker(problems, imported, functions, opsetOf(model)).check(model.graph, new Set(), true);
  }
  return problems;
}

const ERROR_OF: Record<ModelProblemKind, new (message: string) => ModelStructureError> = {
  version: UnsupportedModelVersionError,
  tensor: TensorDataError,
  graph: ModelStructureError,
  shape: ModelShapeError,
  schema: OpSchemaError,
};

/**
 * Throws when the model is malformed: the error class matches the first problem's kind, its
 * message is that problem (and how many more there are) on one line, prefixed by `source`.
 * @throws UnsupportedModelVersionError, TensorDataError, ModelShapeError, ModelStructureError
 */
export function assertWellFormedModel(model: ModelProto, source = "model"): void {
  const problems = findModelProblems(model);
  if (problems.length === 0) return;
  const first = problems[0]!;
  const more =
    problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? "s" : ""})` : "";
  throw new ERROR_OF[first.kind](`${source}: ${oneLine(first.message)}${more}`);
}

/** Collapses line breaks a crafted name may carry, so messages stay one line. */
export function oneLine(s: string): string {
  return s.replace(/[\r\n\t]+/g, " ");
}
