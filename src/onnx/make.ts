/**
 * Building small models in code (tests, examples, graph rewrites).
 */
import type { DType, Tensor } from "../tensor/tensor.js";
import {
  type AttrValue,
  dataTypeOf,
  makeAttribute,
  makeNode,
  makeValueInfo,
  tensorToProto,
} from "./model.js";
import type { ModelProto, NodeProto } from "./types.js";

/** A node in {@link makeModel}'s compact form. */
export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs?: Record<string, AttrValue>;
  /** Attribute names that are FLOAT even when whole. */
  floats?: string[];
  domain?: string;
  name?: string;
}

/** A graph input/output in {@link makeModel}'s compact form; dims may be symbolic. */
export interface ValueSpec {
  name: string;
  dtype: DType;
  dims?: (number | string)[];
}

/** Model description for {@link makeModel}. */
export interface ModelSpec {
  opset?: number;
  inputs: ValueSpec[];
  outputs: ValueSpec[];
  nodes: NodeSpec[];
  initializers?: Record<string, Tensor>;
  /** IR version (default 8). */
  irVersion?: number;
}

/** Builds a ModelProto from a compact description. */
export function makeModel(spec: ModelSpec): ModelProto {
  const nodes: NodeProto[] = spec.nodes.map((n, k) =>
    makeNode(
      n.op,
      n.inputs,
      n.outputs,
      n.name ?? `${n.op}_${k}`,
      Object.entries(n.attrs ?? {}).map(([name, v]) =>
        makeAttribute(name, v, { float: n.floats?.includes(name) }),
      ),
      n.domain,
    ),
  );
  return {
    irVersion: spec.irVersion ?? 8,
    opsetImport: [{ domain: "", version: spec.opset ?? 17 }],
    producerName: "pathlens",
    metadataProps: [],
    trainingInfo: [],
    functions: [],
    graph: {
      name: "g",
      node: nodes,
      initializer: Object.entries(spec.initializers ?? {}).map(([name, t]) => tensorToProto(name, t)),
      sparseInitializer: [],
      input: spec.inputs.map((v) => makeValueInfo(v.name, dataTypeOf(v.dtype), v.dims)),
      output: spec.outputs.map((v) => makeValueInfo(v.name, dataTypeOf(v.dtype), v.dims)),
      valueInfo: [],
      quantizationAnnotation: [],
      metadataProps: [],
    },
  };
}
