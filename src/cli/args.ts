/**
 * Command-line parsing for the pathlens CLI, on node:util `parseArgs`. A command declares its
 * positionals and options once; parsing, validation (unknown flags, missing values, repeats) and
 * the help text all come from that declaration, so adding a command is adding a {@link CommandSpec}.
 */

import { parseArgs } from "node:util";
import { PathlensError } from "../errors.js";

/** A wrong command line; the CLI prints the message and the usage, and exits with code 2. */
export class UsageError extends PathlensError {
  override name = "UsageError";
  /** The command whose usage applies (undefined: the top-level usage). */
  readonly command?: CommandSpec;
  constructor(message: string, command?: CommandSpec) {
    super(message);
    this.command = command;
  }
}

/** A problem with the files or values named on the command line; the CLI prints it and exits with code 1. */
export class CliError extends PathlensError {
  override name = "CliError";
}

/** One `--flag` of a command. */
export interface OptionSpec {
  /** "string" takes a value (`--out DIR`); "boolean" does not. */
  type: "string" | "boolean";
  /** May be given several times (values are collected in order). */
  multiple?: boolean;
  /** Must be given at least once. */
  required?: boolean;
  /** One-letter alias (`-o`). */
  short?: string;
  /** Placeholder shown in the help, e.g. "NAME=FILE". */
  value?: string;
  /** One-line description. */
  help: string;
}

/** A subcommand: `pathlens <name> <positionals…> [options]`. */
export interface CommandSpec {
  name: string;
  /** One line for the top-level help. */
  summary: string;
  /** Required positional arguments, in order. */
  positionals: { name: string; help: string }[];
  options: Record<string, OptionSpec>;
  /** Extra paragraphs printed after the options. */
  notes?: string;
}

/** A parsed command line with typed accessors. */
export class ParsedArgs {
  constructor(
    readonly command: CommandSpec,
    /** Positional values by name. */
    readonly positionals: Record<string, string>,
    private readonly values: Record<string, string | boolean | (string | boolean)[] | undefined>,
  ) {}

  /** The value of a single-valued string option (undefined when absent). */
  string(name: string): string | undefined {
    const v = this.values[name];
    return typeof v === "string" ? v : undefined;
  }

  /** All values of a repeatable string option (empty when absent). */
  strings(name: string): string[] {
    const v = this.values[name];
    return Array.isArray(v) ? v.map(String) : typeof v === "string" ? [v] : [];
  }

  /** Whether a boolean option was given. */
  flag(name: string): boolean {
    return this.values[name] === true;
  }

  /**
   * `NAME=VALUE` pairs of a repeatable option, in order, as a map.
   * @throws UsageError for a value without `=`, an empty name or value, or a NAME given twice
   */
  pairs(name: string): Map<string, string> {
    const out = new Map<string, string>();
    for (const raw of this.strings(name)) {
      const [key, value] = splitPair(raw, `--${name}`, this.command);
      if (out.has(key)) throw new UsageError(`--${name}: "${key}" is given twice`, this.command);
      out.set(key, value);
    }
    return out;
  }
}

/** Splits `NAME=VALUE` at the first `=`. */
export function splitPair(raw: string, flag: string, command?: CommandSpec): [string, string] {
  const k = raw.indexOf("=");
  if (k <= 0 || k === raw.length - 1) {
    throw new UsageError(`${flag} expects NAME=VALUE, got "${raw}"`, command);
  }
  return [raw.slice(0, k), raw.slice(k + 1)];
}

/** Result of {@link parseCommand}: parsed arguments, or a request for the command's help. */
export type ParseResult = { help: true } | { help: false; args: ParsedArgs };

/**
 * Parses a subcommand's arguments (everything after the command name).
 * `-h`/`--help` anywhere returns `{ help: true }`.
 * @throws UsageError for unknown options, missing values or positionals, extra positionals,
 *   repeated single-valued options and missing required options
 */
export function parseCommand(spec: CommandSpec, argv: readonly string[]): ParseResult {
  if (argv.includes("--help") || argv.includes("-h")) return { help: true };
  const options: Record<string, { type: "string" | "boolean"; multiple?: boolean; short?: string }> = {};
  for (const [name, o] of Object.entries(spec.options)) {
    options[name] = { type: o.type, multiple: o.multiple ?? false, ...(o.short ? { short: o.short } : {}) };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true, tokens: true });
  } catch (e) {
    throw new UsageError(cleanParseError(e as Error), spec);
  }
  const counts = new Map<string, number>();
  for (const t of parsed.tokens ?? [])
    if (t.kind === "option") counts.set(t.name, (counts.get(t.name) ?? 0) + 1);
  for (const [name, o] of Object.entries(spec.options)) {
    const n = counts.get(name) ?? 0;
    if (!o.multiple && n > 1) throw new UsageError(`--${name} may be given only once`, spec);
    if (o.required && n === 0)
      throw new UsageError(`missing required option --${name}${o.value ? ` ${o.value}` : ""}`, spec);
  }
  const pos = parsed.positionals;
  if (pos.length < spec.positionals.length) {
    throw new UsageError(`missing ${spec.positionals[pos.length]!.name}`, spec);
  }
  if (pos.length > spec.positionals.length) {
    throw new UsageError(`unexpected argument "${pos[spec.positionals.length]}"`, spec);
  }
  const positionals = Object.fromEntries(spec.positionals.map((p, k) => [p.name, pos[k]!]));
  return { help: false, args: new ParsedArgs(spec, positionals, parsed.values) };
}

/** node:util's messages carry advice for script authors ("To specify a positional argument…"); keep the first sentence. */
function cleanParseError(e: Error): string {
  const first = e.message.split(/\.\s/)[0]!.replace(/\.$/, "");
  return first.replace(/^Unknown option/, "unknown option").replace(/^Option/, "option");
}

/** The help text of a command. */
export function commandUsage(spec: CommandSpec, program = "pathlens"): string {
  const pos = spec.positionals.map((p) => `<${p.name}>`).join(" ");
  const lines = [`Usage: ${program} ${spec.name}${pos ? ` ${pos}` : ""} [options]`, "", spec.summary, ""];
  if (spec.positionals.length) {
    lines.push("Arguments:");
    for (const p of spec.positionals) lines.push(`  ${`<${p.name}>`.padEnd(26)} ${p.help}`);
    lines.push("");
  }
  lines.push("Options:");
  const rows = Object.entries(spec.options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : ""}--${name}${o.type === "string" ? ` ${o.value ?? "VALUE"}` : ""}`;
    const tags = [o.required ? "required" : "", o.multiple ? "repeatable" : ""].filter(Boolean).join(", ");
    return [flag, `${o.help}${tags ? ` (${tags})` : ""}`] as const;
  });
  rows.push(["-h, --help", "show this help"]);
  for (const [flag, help] of rows) lines.push(`  ${flag.padEnd(26)} ${help}`);
  if (spec.notes) lines.push("", spec.notes);
  return lines.join("\n");
}

/** The top-level help text listing the commands. */
export function programUsage(commands: readonly CommandSpec[], program = "pathlens"): string {
  const lines = [
    `Usage: ${program} <command> [options]`,
    "",
    "Path attributions for ONNX models.",
    "",
    "Commands:",
    ...commands.map((c) => `  ${c.name.padEnd(14)} ${c.summary}`),
    "",
    `Run "${program} <command> --help" for a command's options.`,
    "Options: -h, --help  show this help;  --version  print the version",
  ];
  return lines.join("\n");
}
