/**
 * Argument helpers of the path-method commands (`explain --method guided_ig|blur_ig`,
 * `evaluate`): reading the attributed input, targets, baselines and numbers from the command line.
 */
import type { Target } from "../attribution/targets.js";
import { loadModel } from "../io/model-file.js";
import { readNpy } from "../io/npy.js";
import { dtypeOf, elemTypeOf } from "../onnx/model.js";
import type { ModelProto } from "../onnx/types.js";
import { castFloat, isFloat, shapeString, type Tensor } from "../tensor/tensor.js";
import { CliError, type CommandSpec, type ParsedArgs, UsageError } from "./args.js";

/** The model's inputs that are not initialisers. */
export function modelInputs(model: ModelProto): string[] {
  const g = model.graph!;
  const inits = new Set(g.initializer.map((t) => t.name));
  return g.input.map((i) => i.name!).filter((n) => !inits.has(n));
}

/** Reads an .npy for model input `name`, cast to the input's float type. */
export async function readInputFile(
  model: ModelProto,
  modelPath: string,
  name: string,
  file: string,
): Promise<Tensor> {
  let t = await readNpy(file);
  const want = dtypeOf(elemTypeOf(model.graph!.input.find((i) => i.name === name)));
  if (want && want !== t.dtype) {
    if (isFloat(want) && isFloat(t.dtype)) t = castFloat(t, want);
    else throw new CliError(`${file}: holds ${t.dtype}, but input "${name}" of ${modelPath} is ${want}`);
  }
  return t;
}

/** The model, its one attributed input (`--input [NAME=]FILE`) and `--extra NAME=FILE` inputs. */
export async function readModelAndInputs(
  args: ParsedArgs,
  spec: CommandSpec,
): Promise<{ model: ModelProto; modelPath: string; name: string; x: Tensor; extra: Record<string, Tensor> }> {
  const modelPath = args.positionals["model.onnx"]!;
  const model = await loadModel(modelPath);
  const names = modelInputs(model);
  const raw = args.strings("input");
  if (raw.length !== 1) throw new UsageError(`give exactly one --input (got ${raw.length})`, spec);
  const r = raw[0]!;
  const k = r.indexOf("=");
  const prefix = k > 0 ? r.slice(0, k) : undefined;
  let name: string;
  let file: string;
  if (prefix !== undefined && (names.includes(prefix) || !/[/\\.]/.test(prefix))) {
    name = prefix;
    file = r.slice(k + 1);
  } else {
    if (names.length < 1) throw new CliError(`${modelPath}: the model has no inputs`);
    name = names[0]!;
    file = r;
  }
  if (!names.includes(name))
    throw new CliError(`${modelPath}: has no input "${name}" (--input; inputs: ${names.join(", ")})`);
  const x = await readInputFile(model, modelPath, name, file);
  const extra: Record<string, Tensor> = {};
  for (const [n, f] of args.pairs("extra")) {
    if (!names.includes(n))
      throw new CliError(`${modelPath}: has no input "${n}" (--extra; inputs: ${names.join(", ")})`);
    extra[n] = await readInputFile(model, modelPath, n, f);
  }
  const missing = names.filter((n) => n !== name && !(n in extra));
  if (missing.length) {
    throw new CliError(
      `${modelPath}: input(s) ${missing.map((m) => `"${m}"`).join(", ")} need a value: pass them with --extra NAME=FILE.npy`,
    );
  }
  return { model, modelPath, name, x, extra };
}

/** `--target N|FILE.npy`: a class index, per-example indices, or output weights. */
export async function readTarget(v: string | undefined, spec: CommandSpec): Promise<Target | undefined> {
  if (v === undefined) return undefined;
  if (/^\d+$/.test(v)) return Number(v);
  if (!v.endsWith(".npy"))
    throw new UsageError(`--target must be a class index or a .npy file, got "${v}"`, spec);
  const t = await readNpy(v);
  if (isFloat(t.dtype)) return t;
  if (t.dtype === "bool")
    throw new CliError(`${v} (--target): holds bool; give class indices (integers) or float output weights`);
  if (t.dims.length > 1)
    throw new CliError(
      `${v}: integer targets must be one index per example (1-D), got shape ${shapeString(t.dims)}`,
    );
  return Array.from(t.data as ArrayLike<number | bigint>, Number);
}

/** `--baseline zero|NUMBER|FILE.npy`. */
export async function readBaseline(
  v: string | undefined,
  spec: CommandSpec,
): Promise<number | Tensor | "zero"> {
  if (v === undefined || v === "zero") return "zero";
  if (v.endsWith(".npy")) {
    const t = await readNpy(v);
    if (!isFloat(t.dtype)) throw new CliError(`${v} (--baseline): holds ${t.dtype}; a float array is needed`);
    return t;
  }
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n))
    throw new UsageError(`--baseline must be zero, a number or a .npy file, got "${v}"`, spec);
  return n;
}

/** A float .npy named by a flag (undefined when the flag is absent). */
export async function readFloatFile(args: ParsedArgs, flag: string): Promise<Tensor | undefined> {
  const v = args.string(flag);
  if (v === undefined) return undefined;
  const t = await readNpy(v);
  if (!isFloat(t.dtype)) throw new CliError(`${v} (--${flag}): holds ${t.dtype}; a float array is needed`);
  return t;
}

/** A numeric option, checked (undefined when absent). */
export function numberOption(
  args: ParsedArgs,
  flag: string,
  spec: CommandSpec,
  ok: (n: number) => boolean,
): number | undefined {
  const v = args.string(flag);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || !ok(n))
    throw new UsageError(`--${flag}: invalid value "${v}"`, spec);
  return n;
}

/** Integer ≥ 1. */
export const positiveInteger = (n: number): boolean => Number.isInteger(n) && n >= 1;
