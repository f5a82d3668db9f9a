#!/usr/bin/env node
/**
 * The `pathlens` command line. Commands are declared as {@link CommandSpec}s (see args.ts) and
 * registered in {@link COMMANDS}; adding one is a spec plus a run function.
 *
 * Exit codes: 0 success, 1 error (one line on stderr; stack with PATHLENS_DEBUG=1),
 * 2 wrong usage (the message and where to find the usage, on stderr).
 *
 * `--no-cache` (any command) builds gradient models afresh instead of loading them from the disk
 * cache (the same as PATHLENS_CACHE=0; the folder is $PATHLENS_CACHE_DIR, see runtime/disk-cache.ts).
 */
import { readFileSync } from "node:fs";
import { assertWritableFolder } from "../io/npy.js";
import {
  type CommandSpec,
  closest,
  commandUsage,
  type ParsedArgs,
  parseCommand,
  programUsage,
  UsageError,
  usageErrorText,
} from "./args.js";
import { batchCommand, runBatch } from "./batch.js";
import { checkCommand, runCheck } from "./check.js";
import { demoCommand, runDemo } from "./demo.js";
import { eigCommand, runEig, runSignificance, significanceCommand } from "./eig.js";
import { evaluateCommand, runEvaluate } from "./evaluate.js";
import { explainCommand, runExplain } from "./explain.js";
import { gradientCommand, runGradient } from "./gradient.js";
import { imageCommand, runImage } from "./image.js";
import { printedMessage } from "./messages.js";
import { runTabular, tabularCommand } from "./tabular.js";
import { runText, textCommand } from "./text.js";
import { runWorkerCommand, workerCommand } from "./worker.js";

/** A registered command: its declaration and what it does; returns lines for stdout. */
interface Command {
  spec: CommandSpec;
  run(args: ParsedArgs): Promise<string[]>;
}

const COMMANDS: Command[] = [
  { spec: gradientCommand, run: runGradient },
  { spec: explainCommand, run: runExplain },
  { spec: eigCommand, run: runEig },
  { spec: significanceCommand, run: runSignificance },
  { spec: textCommand, run: runText },
  { spec: imageCommand, run: runImage },
  { spec: tabularCommand, run: runTabular },
  { spec: demoCommand, run: runDemo },
  { spec: batchCommand, run: runBatch },
  { spec: workerCommand, run: runWorkerCommand },
  { spec: evaluateCommand, run: runEvaluate },
  { spec: checkCommand, run: runCheck },
];

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
      version?: string;
    };
    return pkg.version ?? "unknown";
  } catch {
    return "unknown";
  }
}

/** Runs the CLI on `argv` (without node and the script); returns the exit code. */
async function main(args: readonly string[]): Promise<number> {
  const argv = args.filter((a) => a !== "--no-cache");
  // every command makes its backends with nodeBackend(), which reads this
  if (argv.length !== args.length) process.env.PATHLENS_CACHE = "0";
  const specs = COMMANDS.map((c) => c.spec);
  const [name, ...rest] = argv;
  if (name === "--help" || name === "-h" || name === "help") {
    const sub = name === "help" && rest[0] ? COMMANDS.find((c) => c.spec.name === rest[0]) : undefined;
    process.stdout.write(`${sub ? commandUsage(sub.spec) : programUsage(specs)}\n`);
    return 0;
  }
  if (name === "--version") {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const command = COMMANDS.find((c) => c.spec.name === name);
  try {
    if (name === undefined) throw new UsageError("no command given");
    if (!command) {
      const near = closest(
        name.replace(/^-+/, ""),
        specs.map((c) => c.name),
      );
      const hint = near ? `; did you mean "${near}"?` : "";
      throw new UsageError(
        name.startsWith("-") ? `unknown option "${name}"${hint}` : `unknown command "${name}"${hint}`,
      );
    }
    const parsed = parseCommand(command.spec, rest);
    if (parsed.help) {
      process.stdout.write(`${commandUsage(command.spec)}\n`);
      return 0;
    }
    // An unwritable --out fails before any work, not after minutes of it.
    const out = command.spec.options.out ? parsed.args.string("out") : undefined;
    if (out !== undefined) await assertWritableFolder(out);
    await quietRuntime();
    const lines = await command.run(parsed.args);
    for (const l of lines) process.stdout.write(`${l}\n`);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`${usageErrorText(printedMessage(e.message), e.command)}\n`);
      return 2;
    }
    const err = e as Error;
    if (process.env.PATHLENS_DEBUG === "1") process.stderr.write(`${err?.stack ?? String(e)}\n`);
    else process.stderr.write(`pathlens: ${oneLine(err?.message ?? String(e))}\n`);
    return 1;
  }
}

/** onnxruntime logs failed runs to stderr itself; keep stderr to pathlens' one line unless debugging. */
async function quietRuntime(): Promise<void> {
  if (process.env.PATHLENS_DEBUG === "1") return;
  const ort = await import("onnxruntime-node");
  ort.env.logLevel = "fatal";
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, " ").trim();
}

// A closed pipe (`pathlens … | head`) ends the output quietly, as Unix tools do.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw e;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`pathlens: ${String(e)}\n`);
    process.exitCode = 1;
  },
);
