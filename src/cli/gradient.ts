/**
 * `pathlens gradient`: ∂/∂x Σ(seed ⊙ output) of an ONNX model, and optionally the
 * Hessian-vector product ∂/∂x Σ(gradient ⊙ v), written as `.npy` files.
 */
import { assertFinite } from "../attribution/errors.js";
import { readNpy, writeNpyFiles } from "../io/npy.js";
import { encodeModel } from "../onnx/codec.js";
import { declaredDims, dtypeOf, elemTypeOf } from "../onnx/model.js";
import type { ModelProto } from "../onnx/types.js";
import { RuntimeError } from "../runtime/backend.js";
import { GradientSession } from "../runtime/gradient-session.js";
import { formatPlacement, placementReport } from "../runtime/placement.js";
import { castFloat, isFloat, shapeString, type Tensor } from "../tensor/tensor.js";
import { CliError, type CommandSpec, type ParsedArgs } from "./args.js";
import { loadCheckedModel } from "./check.js";
import { backendFor, DEVICE_OPTION } from "./device.js";

/** The declaration of `pathlens gradient`. */
export const gradientCommand: CommandSpec = {
  name: "gradient",
  summary: "Gradient (and Hessian-vector product) of a model output with respect to a tensor",
  positionals: [{ name: "model.onnx", help: "the ONNX model (external data next to it is read)" }],
  options: {
    device: DEVICE_OPTION,
    input: {
      type: "string",
      multiple: true,
      required: true,
      value: "NAME=FILE.npy",
      help: "value of a model input",
    },
    wrt: {
      type: "string",
      required: true,
      value: "NAME",
      help: "tensor to differentiate with respect to (input or intermediate)",
    },
    cotangent: {
      type: "string",
      required: true,
      value: "FILE.npy",
      help: "cotangent (seed) shaped like the output",
      deprecatedAliases: ["seed"],
    },
    output: {
      type: "string",
      value: "NAME",
      help: "output to differentiate (default: the model's only output)",
    },
    hvp: { type: "string", value: "FILE.npy", help: "direction v shaped like --wrt; also writes hvp.npy" },
    verbose: {
      type: "boolean",
      help: "also print where onnxruntime ran the gradient graph's nodes (those off the --device)",
    },
    out: {
      type: "string",
      short: "o",
      required: true,
      value: "DIR",
      help: "folder for gradient.npy (and hvp.npy); created if missing",
    },
  },
  notes: [
    "Writes DIR/gradient.npy = d/dx sum(cotangent * output) and, with --hvp, DIR/hvp.npy = d/dx sum(gradient * v).",
    "Inputs are fed in their .npy dtype, which must match the model's; the cotangent and v are converted to the",
    "dtype of the output and of the wrt tensor. Files are written only when everything succeeded.",
  ].join("\n"),
};

/** Runs `pathlens gradient`; returns the lines to print on success. */
export async function runGradient(args: ParsedArgs): Promise<string[]> {
  const modelPath = args.positionals["model.onnx"]!;
  const wrt = args.string("wrt")!;
  const outDir = args.string("out")!;
  const inputFiles = args.pairs("input");
  const seedFile = args.string("cotangent")!;
  const hvpFile = args.string("hvp");

  const model = await loadCheckedModel(modelPath);
  const output = pickOutput(model, args.string("output"), modelPath);
  const feeds = await readFeeds(model, inputFiles, modelPath);
  const seedRaw = await readNpy(seedFile);
  requireFloat(seedRaw, seedFile, "--cotangent");
  checkDeclared(model, output, seedRaw, seedFile, "--cotangent", "output");
  const vRaw = hvpFile === undefined ? undefined : await readNpy(hvpFile);
  if (vRaw) requireFloat(vRaw, hvpFile!, "--hvp");
  // NaN/Inf in, NaN/Inf (or, through a ReLU, a silently finite gradient) out: refuse up front.
  for (const [name, t] of Object.entries(feeds))
    if (isFloat(t.dtype)) assertFinite(t.data as Float32Array, `--input "${name}"`);
  assertFinite(seedRaw.data as Float32Array, `${seedFile} (--seed)`);
  if (vRaw) assertFinite(vRaw.data as Float32Array, `${hvpFile} (--hvp)`);

  const session = await GradientSession.create(backendFor(args), model, feeds, {
    wrt: [wrt],
    outputs: [output],
    hvp: !!vRaw,
  });
  try {
    const outDtype = session.shapes.get(output)?.dtype;
    const wrtDtype = session.shapes.get(wrt)?.dtype;
    const seed = outDtype && isFloat(outDtype) ? castFloat(seedRaw, outDtype) : seedRaw;
    const v = vRaw && wrtDtype && isFloat(wrtDtype) ? castFloat(vRaw, wrtDtype) : vRaw;
    checkProbed(
      seed.dims,
      session.shapes.get(output)?.dims,
      () =>
        `${seedFile} (--cotangent): the cotangent has shape ${shapeString(seed.dims)}, output "${output}" has shape`,
    );
    if (v) {
      const wrtDims = feeds[wrt]?.dims ?? session.shapes.get(wrt)?.dims;
      checkProbed(
        v.dims,
        wrtDims,
        () => `${hvpFile} (--hvp): v has shape ${shapeString(v.dims)}, "${wrt}" has shape`,
        !feeds[wrt],
      );
    }
    let result: Awaited<ReturnType<GradientSession["run"]>>;
    try {
      result = await session.run(feeds, { [output]: seed }, v ? { [wrt]: v } : undefined);
    } catch (e) {
      if (!(e instanceof RuntimeError)) throw e;
      throw new RuntimeError(
        `${e.message.split("\n")[0]} (check that the seed has the shape of output "${output}"${v ? ` and v that of "${wrt}"` : ""})`,
      );
    }
    const y = result.outputs[output]!;
    if (!sameDims(y.dims, seed.dims)) {
      throw new CliError(
        `${seedFile}: the cotangent has shape ${shapeString(seed.dims)}, output "${output}" has shape ${shapeString(y.dims)}`,
      );
    }
    const grad = result.gradients[wrt]!;
    const files: Record<string, Tensor> = { "gradient.npy": grad };
    if (v) {
      if (!sameDims(v.dims, grad.dims)) {
        throw new CliError(
          `${hvpFile}: v has shape ${shapeString(v.dims)}, "${wrt}" has shape ${shapeString(grad.dims)}`,
        );
      }
      files["hvp.npy"] = result.hvp![wrt]!;
    }
    const written = await writeNpyFiles(outDir, files);
    const lines = written.map((p, k) => {
      const t = Object.values(files)[k]!;
      return `wrote ${p} (${t.dtype} ${shapeString(t.dims)})`;
    });
    if (args.flag("verbose")) {
      const all: Record<string, Tensor> = { ...feeds, [session.seedNames()[output]!]: seed };
      if (v) all[session.model.graph!.input.at(-1)!.name!] = v;
      const device = (args.string("device") ?? "cpu") as "cpu" | "webgpu";
      lines.push(
        `placement: ${formatPlacement(await placementReport(encodeModel(session.model), all, { device }))}`,
      );
    }
    return lines;
  } finally {
    await session.dispose();
  }
}

/**
 * Compares given dims with the dims the shape probe saw. The probe tiles dynamic axes of size 1
 * to 2, so a probed 2 also accepts 1 when `tiled` (the run checks exactly afterwards).
 */
function checkProbed(
  given: readonly number[],
  probed: readonly number[] | undefined,
  message: () => string,
  tiled = true,
): void {
  if (!probed) return;
  const ok =
    given.length === probed.length &&
    given.every((d, k) => d === probed[k] || (tiled && d === 1 && probed[k] === 2));
  if (!ok)
    throw new CliError(
      `${message()} ${shapeString(tiled ? probed.map((d) => (d === 2 ? "1 or 2" : d)) : probed)}`,
    );
}

function sameDims(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, k) => d === b[k]);
}

function requireFloat(t: Tensor, file: string, flag: string): void {
  if (!isFloat(t.dtype))
    throw new CliError(`${file} (${flag}): holds ${t.dtype}; a float32 or float64 array is needed`);
}

function graphInputs(model: ModelProto): string[] {
  const g = model.graph!;
  const inits = new Set(g.initializer.map((t) => t.name));
  return g.input.map((i) => i.name!).filter((n) => !inits.has(n));
}

function pickOutput(model: ModelProto, requested: string | undefined, modelPath: string): string {
  const names = model.graph!.output.map((o) => o.name!);
  if (requested !== undefined) {
    if (!names.includes(requested)) {
      throw new CliError(`${modelPath}: has no output "${requested}" (outputs: ${names.join(", ")})`);
    }
    return requested;
  }
  if (names.length !== 1) {
    throw new CliError(
      `${modelPath}: has ${names.length} outputs (${names.join(", ")}); choose one with --output NAME`,
    );
  }
  return names[0]!;
}

/** Checks a tensor against a value's declared element type and fixed dims. */
function checkDeclared(
  model: ModelProto,
  name: string,
  t: Tensor,
  file: string,
  flag: string,
  what: string,
): void {
  const g = model.graph!;
  const vi = [...g.input, ...g.output].find((v) => v.name === name);
  const declared = declaredDims(vi);
  if (!declared) return;
  const fixed =
    declared.length !== t.dims.length || declared.some((d, k) => typeof d === "number" && d !== t.dims[k]);
  if (fixed) {
    throw new CliError(
      `${file} (${flag}): shape ${shapeString(t.dims)} does not fit ${what} "${name}" of shape ${shapeString(declared)}`,
    );
  }
}

async function readFeeds(
  model: ModelProto,
  files: Map<string, string>,
  modelPath: string,
): Promise<Record<string, Tensor>> {
  const names = graphInputs(model);
  for (const name of files.keys()) {
    if (!names.includes(name)) {
      throw new CliError(`${modelPath}: has no input "${name}" (inputs: ${names.join(", ")})`);
    }
  }
  const missing = names.filter((n) => !files.has(n));
  if (missing.length) {
    throw new CliError(
      `${modelPath}: input${missing.length > 1 ? "s" : ""} ${missing.map((m) => `"${m}"`).join(", ")} need${missing.length > 1 ? "" : "s"} a value: ${missing.map((m) => `--input ${m}=FILE.npy`).join(" ")}`,
    );
  }
  const feeds: Record<string, Tensor> = {};
  for (const [name, file] of files) {
    const t = await readNpy(file);
    const vi = model.graph!.input.find((i) => i.name === name);
    const want = dtypeOf(elemTypeOf(vi));
    if (want && want !== t.dtype) {
      throw new CliError(
        `${file}: holds ${t.dtype}, but input "${name}" of ${modelPath} is ${want} (convert it, e.g. arr.astype(np.${want}))`,
      );
    }
    checkDeclared(model, name, t, file, `--input ${name}`, "input");
    feeds[name] = t;
  }
  return feeds;
}
