/**
 * `pathlens check model.onnx`: every op of the model with its domain, opset and how pathlens
 * differentiates it, plus every structural problem — without running the model. The other
 * commands run the same check first ({@link loadCheckedModel}), so an unsupported model fails
 * at once with the full list of what is missing.
 */
import { assertModelSupported, checkModel, type ModelCheckReport } from "../autodiff/op-support.js";
import { loadModel } from "../io/model-file.js";
import type { ModelProto } from "../onnx/types.js";
import { CliError, type CommandSpec, type ParsedArgs } from "./args.js";

/** The declaration of `pathlens check`. */
export const checkCommand: CommandSpec = {
  name: "check",
  summary: "List a model's ops and whether pathlens can differentiate them; report malformed models",
  positionals: [{ name: "model.onnx", help: "the model to check (not run)" }],
  options: {
    json: { type: "boolean", help: "print the report as JSON" },
  },
  notes:
    "Exit code 0 when the model is well formed and every op on a path from an input to an output can be " +
    "differentiated, 1 otherwise. Support: rule (a gradient rule), decomposition (rewritten into ops with " +
    "rules), non-differentiable (no gradient by nature: comparisons, shapes, …), folded (an If decided by " +
    "shapes and constants, replaced by its branch when the model runs), function (a model-local function), missing (pathlens cannot differentiate it; * marks ops a gradient would need).",
};

/** Loads a model for a command that will run it: the checker and the op-support check first. */
export async function loadCheckedModel(path: string): Promise<ModelProto> {
  const model = await loadModel(path);
  assertModelSupported(model, path);
  return model;
}

function table(report: ModelCheckReport): string[] {
  const rows = report.ops.map((o) => [
    o.domain ? `${o.domain}.${o.opType}` : o.opType,
    String(o.opset),
    String(o.count),
    o.support + (o.support === "missing" && o.onGradientPath ? " *" : ""),
  ]);
  const head = ["op", "opset", "nodes", "support"];
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) =>
    r
      .map((x, c) => x.padEnd(widths[c]!))
      .join("  ")
      .trimEnd();
  return [line(head), ...rows.map(line)];
}

/** Runs `pathlens check`. */
export async function runCheck(args: ParsedArgs): Promise<string[]> {
  const path = args.positionals["model.onnx"]!;
  const t0 = performance.now();
  const report = checkModel(await loadModel(path, { check: false }));
  const seconds = (performance.now() - t0) / 1000;
  const lines = args.flag("json")
    ? [JSON.stringify({ model: path, ...report, seconds }, null, 2)]
    : [
        ...table(report),
        ...report.problems.map((p) => `problem (${p.kind}): ${p.message.replace(/[\r\n]+/g, " ")}`),
        `${report.ops.length} op types; ${report.problems.length} problems; ${report.missing.length} ops pathlens cannot differentiate (${seconds.toFixed(2)} s)`,
      ];
  if (report.ok) return lines;
  for (const l of lines) process.stdout.write(`${l}\n`);
  const missing = report.missing.map((o) => (o.domain ? `${o.domain}.${o.opType}` : o.opType));
  throw new CliError(
    `${path}: ${report.problems.length} problem${report.problems.length === 1 ? "" : "s"}` +
      (missing.length ? `; cannot differentiate ${missing.join(", ")}` : ""),
  );
}
