/**
 * Op-schema checks, as ONNX's checker and type inference make them before onnxruntime would: the
 * op exists at the model's opset, input/output counts, required inputs present, attributes known,
 * required and of the right type, and element types allowed by the op's type constraints and
 * consistent between inputs that share a type variable. The schemas are data
 * (op-schemas.data.ts, generated from the `onnx` package's definitions up to opset 17).
 *
 * Beyond opset 17 the table may be stale: ops that changed in opsets 18–26 are skipped, types
 * added later (bfloat16 on many ops, float8, int4, …) are not flagged, and unknown ops pass.
 */
import { OP_SCHEMAS } from "./op-schemas.data.js";
import { dataTypeName, type GraphProto, type NodeProto } from "./types.js";

/** One version of an op's schema (see op-schemas.data.ts for the field meanings). */
export interface OpSchemaVersion {
  v: number;
  i: [number, number];
  o: [number, number];
  in: string[];
  out: string[];
  a: Record<string, string>;
  t: Record<string, number[]>;
}

/** Op name → its schema versions, oldest first. */
export type OpSchemaTable = Record<string, OpSchemaVersion[]>;

/** Newest opset the generated table describes. */
export const SCHEMA_OPSET = 17;

/**
 * Ops whose inputs, attributes or type constraints changed in opsets 18–26 beyond accepting the
 * newer types (bfloat16 at 22, float8/int4/float4/int2): not checked at those opsets.
 */
const CHANGED_AFTER_SCHEMA = new Set(
  [
    "Pad Resize ScatterElements ScatterND Split LpPool OptionalGetElement OptionalHasElement",
    "ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceMax ReduceMean ReduceMin ReduceProd",
    "ReduceSum ReduceSumSquare AveragePool Cast CastLike Constant DequantizeLinear QuantizeLinear",
    "Equal Identity If Loop Scan Reshape Shape Size ConstantOfShape DFT GridSample IsInf IsNaN",
    "Flatten GroupNormalization QLinearMatMul Squeeze Transpose Unsqueeze TopK SplitToSequence",
    "Attention RMSNormalization RotaryEmbedding Swish TensorScatter DeformConv",
  ]
    .join(" ")
    .split(" "),
);

/** Ops onnxruntime registers in the ONNX domain itself (its contrib ops), at any opset. */
const ORT_ONNX_DOMAIN_OPS = new Set(["LayerNormalization", "SimplifiedLayerNormalization"]);

const ATTR_TYPE: Record<string, number> = {
  f: 1,
  i: 2,
  s: 3,
  t: 4,
  g: 5,
  fs: 6,
  is: 7,
  ss: 8,
  ts: 9,
  gs: 10,
  st: 11,
  sts: 12,
  tp: 13,
  tps: 14,
};
const ATTR_NAME = [
  "undefined",
  "FLOAT",
  "INT",
  "STRING",
  "TENSOR",
  "GRAPH",
  "FLOATS",
  "INTS",
  "STRINGS",
].concat(["TENSORS", "GRAPHS", "SPARSE_TENSOR", "SPARSE_TENSORS", "TYPE_PROTO", "TYPE_PROTOS"]);

/** The schema of `op` that applies at `opset`, "unknown" or "later" (exists only from a newer opset). */
export function schemaAt(op: string, opset: number): OpSchemaVersion | "unknown" | { since: number } {
  const versions = OP_SCHEMAS[op];
  if (!versions?.length) return "unknown";
  let found: OpSchemaVersion | undefined;
  for (const s of versions) if (s.v <= opset) found = s;
  return found ?? { since: versions[0]!.v };
}

interface Formal {
  /** Type variable, or `#code` for a fixed element type, or `?` for a non-tensor type. */
  type: string;
  optional: boolean;
  variadic: boolean;
  homogeneous: boolean;
}

function formal(spec: string): Formal {
  const m = /^(.*?)([?*]?)(~?)$/.exec(spec)!;
  return { type: m[1]!, optional: m[2] === "?", variadic: m[2] === "*", homogeneous: m[3] !== "~" };
}

const label = (n: NodeProto, index: number) =>
  `${n.opType || "?"} node "${n.name || n.output[0] || `#${index}`}"`;

/** Element types of the tensors of one graph, filled in as the nodes are checked in order. */
export type ElementTypes = Map<string, number>;

/** Declared element types of a graph's inputs, initializers and value_info. */
export function declaredElementTypes(g: GraphProto): ElementTypes {
  const types: ElementTypes = new Map();
  for (const v of [...g.input, ...g.valueInfo]) {
    const e = v.type?.tensorType?.elemType;
    if (v.name && e) types.set(v.name, e);
  }
  for (const t of g.initializer) if (t.name && t.dataType) types.set(t.name, t.dataType);
  return types;
}

class NodeSchemaCheck {
  readonly problems: string[] = [];
  private readonly what: string;
  constructor(
    private readonly n: NodeProto,
    index: number,
    private readonly s: OpSchemaVersion,
    private readonly opset: number,
    where: string,
  ) {
    this.what = `${label(n, index)}${where}`;
  }

  private add(m: string) {
    this.problems.push(`${this.what}: ${m}`);
  }

  private formalAt(list: string[], k: number): Formal | undefined {
    const f = list[Math.min(k, list.length - 1)];
    if (f === undefined) return undefined;
    const p = formal(f);
    return k < list.length || p.variadic ? p : undefined;
  }

  counts(): void {
    const { n, s } = this;
    const op = `${n.opType} (opset ${this.opset})`;
    if (n.input.length < s.i[0] || n.input.length > s.i[1])
      this.add(`has ${n.input.length} inputs; ${op} takes ${range(s.i)}`);
    if (n.output.length < s.o[0] || n.output.length > s.o[1])
      this.add(`has ${n.output.length} outputs; ${op} gives ${range(s.o)}`);
    n.input.forEach((name, k) => {
      const f = this.formalAt(s.in, k);
      if (!name && f && !f.optional) this.add(`input ${k} is required but empty`);
    });
  }

  attributes(): void {
    const { n, s } = this;
    const seen = new Set<string>();
    for (const a of n.attribute) {
      const name = a.name ?? "";
      if (seen.has(name)) this.add(`attribute "${name}" is given twice`);
      seen.add(name);
      const spec = s.a[name];
      if (spec === undefined) {
        this.add(`has attribute "${name}", which ${n.opType} (opset ${this.opset}) does not define`);
        continue;
      }
      const want = ATTR_TYPE[spec.replace("!", "")]!;
      const got = a.type || undefined;
      if (got !== undefined && got !== want)
        this.add(`attribute "${name}" is ${ATTR_NAME[got] ?? got}, ${n.opType} expects ${ATTR_NAME[want]}`);
    }
    for (const [name, spec] of Object.entries(s.a))
      if (spec.endsWith("!") && !seen.has(name)) this.add(`the required attribute "${name}" is missing`);
  }

  types(types: ElementTypes): void {
    const { n, s } = this;
    const bound = new Map<string, { type: number; tensor: string }>();
    const lenient = this.opset > SCHEMA_OPSET;
    n.input.forEach((name, k) => {
      const f = this.formalAt(s.in, k);
      const got = name ? types.get(name) : undefined;
      if (!f || got === undefined) return;
      const typeName = dataTypeName(got);
      if (f.type.startsWith("#")) {
        const want = Number(f.type.slice(1));
        if (got !== want && !(lenient && got >= 16))
          this.add(`input "${name}" is ${typeName}, ${n.opType} input ${k} must be ${dataTypeName(want)}`);
        return;
      }
      const allowed = s.t[f.type];
      if (!allowed) return;
      if (!allowed.includes(got) && !(lenient && got >= 16))
        this.add(
          `input "${name}" is ${typeName}, which ${n.opType} (opset ${this.opset}) does not accept (${allowed
            .filter((c) => c > 0)
            .map(dataTypeName)
            .join(", ")})`,
        );
      else if (f.homogeneous) {
        const b = bound.get(f.type);
        if (b && b.type !== got)
          this.add(
            `inputs "${b.tensor}" (${dataTypeName(b.type)}) and "${name}" (${typeName}) must have the same element type`,
          );
        else if (!b) bound.set(f.type, { type: got, tensor: name });
      }
    });
    n.output.forEach((name, k) => {
      const f = this.formalAt(s.out, k);
      if (!name || !f) return;
      const t = outputType(n, f, bound, s);
      if (t !== undefined && !types.has(name)) types.set(name, t);
    });
  }
}

function range([lo, hi]: [number, number]): string {
  return lo === hi ? `${lo}` : hi >= 2 ** 31 - 1 ? `${lo} or more` : `${lo} to ${hi}`;
}

function outputType(
  n: NodeProto,
  f: Formal,
  bound: ReadonlyMap<string, { type: number }>,
  s: OpSchemaVersion,
): number | undefined {
  if (n.opType === "Cast") {
    const to = n.attribute.find((a) => a.name === "to")?.i;
    return to === undefined ? undefined : Number(to);
  }
  if (n.opType === "Constant") return n.attribute.find((a) => a.name === "value")?.t?.dataType;
  if (n.opType === "ConstantOfShape") return n.attribute.find((a) => a.name === "value")?.t?.dataType ?? 1;
  if (f.type.startsWith("#")) return Number(f.type.slice(1));
  const b = bound.get(f.type);
  if (b) return b.type;
  const allowed = s.t[f.type];
  return allowed?.length === 1 && allowed[0]! > 0 ? allowed[0] : undefined;
}

/**
 * Op-schema problems of the default-domain nodes of `g` at `opset`, one line each. Element types
 * are inferred node by node (in the graph's order) from `types`, which is extended in place;
 * `functions` holds the default-domain ops the model defines as local functions.
 */
export function opSchemaProblems(
  g: GraphProto,
  opset: number,
  types: ElementTypes | undefined,
  where: string,
  functions: ReadonlySet<string>,
): string[] {
  const out: string[] = [];
  g.node.forEach((n, k) => {
    const domain = n.domain ?? "";
    if ((domain !== "" && domain !== "ai.onnx") || !n.opType || functions.has(n.opType)) return;
    const s = schemaAt(n.opType, opset);
    if (ORT_ONNX_DOMAIN_OPS.has(n.opType) && (s === "unknown" || "since" in s)) return;
    if (s === "unknown") {
      if (opset <= SCHEMA_OPSET)
        out.push(`${label(n, k)}${where}: "${n.opType}" is not an ONNX operator (opset ${opset})`);
      return;
    }
    if ("since" in s) {
      out.push(
        `${label(n, k)}${where}: ${n.opType} exists from opset ${s.since}, the model imports opset ${opset}`,
      );
      return;
    }
    if (opset > SCHEMA_OPSET && CHANGED_AFTER_SCHEMA.has(n.opType)) return;
    const c = new NodeSchemaCheck(n, k, s, opset, where);
    c.counts();
    c.attributes();
    if (types) c.types(types);
    out.push(...c.problems);
  });
  return out;
}
