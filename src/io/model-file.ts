/**
 * Loading and saving `.onnx` files in Node, with ONNX external data resolved safely: tensors
 * whose bytes live in side files (TensorProto.data_location = EXTERNAL) are read into `rawData`,
 * so the returned model is self-contained. Locations must stay inside the model's folder.
 */

import { realpath, rename, rm, writeFile } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { PathlensError } from "../errors.js";
import { assertWellFormedModel } from "../onnx/checker.js";
import { decodeModel, encodeModel } from "../onnx/codec.js";
import type { AttributeProto, GraphProto, ModelProto, TensorProto } from "../onnx/types.js";
import { FILE_SIZE_LIMITS, openRegularFile, readRegularFile } from "./regular-file.js";

/** Raised when a model file or one of its external-data files cannot be read or written. */
export class ModelFileError extends PathlensError {
  override name = "ModelFileError";
  /** The file the error is about. */
  readonly file: string;
  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.file = file;
  }
}

/** Raised when a tensor's external-data location points outside the model's folder. */
export class UnsafeExternalDataError extends ModelFileError {
  override name = "UnsafeExternalDataError";
}

const EXTERNAL = 1;

/** Bytes per element of the ONNX data types whose size is fixed (for reading without a length). */
const ELEMENT_BYTES: Record<number, number> = {
  1: 4,
  2: 1,
  3: 1,
  4: 2,
  5: 2,
  6: 4,
  7: 8,
  9: 1,
  10: 2,
  11: 8,
  12: 4,
  13: 8,
  14: 8,
  15: 16,
  16: 2,
};

/** Every TensorProto of a graph, its nested graphs and its nodes' attributes. */
function* tensorsOfGraph(g: GraphProto): Generator<TensorProto> {
  yield* g.initializer;
  for (const s of g.sparseInitializer) {
    if (s.values) yield s.values;
    if (s.indices) yield s.indices;
  }
  for (const n of g.node) yield* tensorsOfAttributes(n.attribute);
}

function* tensorsOfAttributes(attrs: readonly AttributeProto[]): Generator<TensorProto> {
  for (const a of attrs) {
    if (a.t) yield a.t;
    yield* a.tensors;
    if (a.sparseTensor?.values) yield a.sparseTensor.values;
    if (a.sparseTensor?.indices) yield a.sparseTensor.indices;
    if (a.g) yield* tensorsOfGraph(a.g);
    for (const g of a.graphs) yield* tensorsOfGraph(g);
  }
}

function* tensorsOfModel(model: ModelProto): Generator<TensorProto> {
  if (model.graph) yield* tensorsOfGraph(model.graph);
  for (const f of model.functions) for (const n of f.node) yield* tensorsOfAttributes(n.attribute);
}

function isInside(dir: string, file: string): boolean {
  const rel = relative(dir, file);
  return rel !== "" && !isAbsolute(rel) && rel !== ".." && !rel.startsWith(`..${sep}`);
}

function entryInt(
  tp: TensorProto,
  entries: Map<string, string>,
  key: string,
  where: string,
): number | undefined {
  const v = entries.get(key);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) {
    throw new ModelFileError(
      where,
      `tensor "${tp.name ?? ""}": external data ${key} "${v}" is not a non-negative integer`,
    );
  }
  return Number(v);
}

/** Reads the external bytes of one tensor. */
async function readExternal(tp: TensorProto, modelPath: string, realDir: string): Promise<Uint8Array> {
  const what = `tensor "${tp.name ?? ""}"`;
  const entries = new Map(tp.externalData.map((e) => [e.key ?? "", e.value ?? ""]));
  const location = entries.get("location");
  if (!location) throw new ModelFileError(modelPath, `${what} is stored externally but has no location`);
  if (isAbsolute(location) || /^[a-zA-Z]:[\\/]/.test(location) || location.startsWith("\\")) {
    throw new UnsafeExternalDataError(
      modelPath,
      `${what}: external data location "${location}" is an absolute path; only files inside the model's folder are read`,
    );
  }
  const dir = dirname(resolve(modelPath));
  const file = resolve(dir, location);
  if (!isInside(dir, file)) {
    throw new UnsafeExternalDataError(
      modelPath,
      `${what}: external data location "${location}" resolves outside the model's folder ${dir}`,
    );
  }
  let real: string;
  try {
    real = await realpath(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new ModelFileError(
      file,
      `cannot open the external data of ${what} referenced by ${modelPath} (${code})`,
    );
  }
  if (!isInside(realDir, real)) {
    throw new UnsafeExternalDataError(
      modelPath,
      `${what}: external data location "${location}" is a link to ${real}, outside the model's folder`,
    );
  }
  const offset = entryInt(tp, entries, "offset", modelPath) ?? 0;
  let length = entryInt(tp, entries, "length", modelPath);
  const { handle: fh, size } = await openRegularFile(
    real,
    Number.MAX_SAFE_INTEGER,
    (p) => new ModelFileError(file, `external data of ${what}: ${p}`),
  );
  try {
    if (length === undefined) {
      const width = ELEMENT_BYTES[tp.dataType ?? 0];
      length = width ? tp.dims.reduce<number>((a, d) => a * Number(d), width) : size - offset;
    }
    if (!Number.isSafeInteger(length) || length < 0) {
      throw new ModelFileError(modelPath, `${what}: its dims ${tp.dims.join("×")} give no valid byte length`);
    }
    if (offset + length > size) {
      throw new ModelFileError(
        file,
        `${what} needs bytes ${offset}..${offset + length} but the file has only ${size} bytes (truncated external data?)`,
      );
    }
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await fh.read(out, done, length - done, offset + done);
      if (bytesRead === 0)
        throw new ModelFileError(
          file,
          `short read of the external data of ${what}: got ${done} of ${length} bytes`,
        );
      done += bytesRead;
    }
    return out;
  } finally {
    await fh.close();
  }
}

/** Options of {@link loadModel}. */
export interface LoadModelOptions {
  /**
   * Run the model checker (default true). `false` is for tools that report every problem
   * themselves (`pathlens check`); anything that runs the model should keep the check.
   */
  check?: boolean;
}

/**
 * Reads an `.onnx` file and resolves its external data into `rawData` (the result no longer
 * refers to side files). External-data locations must be relative paths inside the model's folder.
 * @throws ModelFileError when the model or an external-data file cannot be read, or is too short
 * @throws UnsafeExternalDataError when a location is absolute or leaves the model's folder
 * @throws ModelDecodeError when the file is not a valid ONNX model
 * @throws ModelStructureError (or a subclass) when the checker finds the model malformed
 */
export async function loadModel(path: string, options: LoadModelOptions = {}): Promise<ModelProto> {
  // A plain Uint8Array: decoded rawData are then plain views too (Buffer#slice would not copy).
  const bytes = await readRegularFile(path, FILE_SIZE_LIMITS.model, (p) => new ModelFileError(path, p));
  const model = decodeModel(bytes, path);
  const external = [...tensorsOfModel(model)].filter((t) => t.dataLocation === EXTERNAL);
  if (external.length > 0) {
    const realDir = await realpath(dirname(resolve(path)));
    for (const tp of external) {
      tp.rawData = await readExternal(tp, path, realDir);
      tp.dataLocation = undefined;
      tp.externalData = [];
    }
  }
  if (options.check !== false) assertWellFormedModel(model, path);
  return model;
}

/**
 * Writes a model as one self-contained `.onnx` file (through a temporary file and a rename, so a
 * failed write never leaves a partial model).
 * @throws ModelFileError when a tensor still refers to external data or the file cannot be written
 */
export async function saveModel(path: string, model: ModelProto): Promise<void> {
  for (const tp of tensorsOfModel(model)) {
    if (tp.dataLocation === EXTERNAL) {
      throw new ModelFileError(
        path,
        `tensor "${tp.name ?? ""}" still refers to external data; load the model with loadModel first`,
      );
    }
  }
  const bytes = encodeModel(model);
  const tmp = join(
    dirname(path),
    `.${Date.now()}-${process.pid}-${Math.random().toString(36).slice(2)}.onnx.tmp`,
  );
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new ModelFileError(
      path,
      `cannot write the model (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
}
