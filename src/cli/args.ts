/**
 * Command-line parsing for the pathlens CLI, on node:util `parseArgs`. A command declares its
 * positionals and options once; parsing, validation (unknown flags, missing values, repeats) and
 * the help text all come from that declaration, so adding a command is adding a {@link CommandSpec}.
 */

import { parseArgs } from "node:util";
import { PathlensError } from "../errors.js";

/** A wrong command line; the CLI prints the message and where to find the usage, and exits with code 2. */
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
  /** Old names still accepted for this option (e.g. `seed` for `cotangent`); the CLI warns when one is used. */
  deprecatedAliases?: string[];
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
  const renamed = renameDeprecated(spec, argv);
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: renamed, options, allowPositionals: true, strict: true, tokens: true });
  } catch (e) {
    throw new UsageError(withSuggestion(cleanParseError(e as Error), spec), spec);
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

/** Rewrites deprecated option names (`--seed` → `--cotangent`) to their current name, warning on stderr. */
function renameDeprecated(spec: CommandSpec, argv: readonly string[]): string[] {
  const alias = new Map<string, string>();
  for (const [name, o] of Object.entries(spec.options))
    for (const old of o.deprecatedAliases ?? []) alias.set(old, name);
  if (alias.size === 0) return [...argv];
  return argv.map((a) => {
    const m = /^--([^=]+)(=.*)?$/.exec(a);
    const now = m && alias.get(m[1]!);
    if (!now) return a;
    process.stderr.write(`pathlens: warning: ${spec.name} --${m[1]} is deprecated; use --${now}\n`);
    return `--${now}${m[2] ?? ""}`;
  });
}

/** Appends "did you mean --x?" to an unknown-option message when a declared option is close. */
function withSuggestion(message: string, spec: CommandSpec): string {
  const m = /^unknown option '(-{1,2})([^']+)'/.exec(message);
  if (!m) return message;
  const close = closest(m[2]!, Object.keys(spec.options));
  return close ? `${message}; did you mean --${close}?` : message;
}

/**
 * The candidate closest to `word` by edit distance, when close enough to be a likely typo
 * (at most a third of its length, and at least one edit allowed), or a candidate it prefixes.
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const d = c.startsWith(word) && word.length >= 3 ? 0.5 : editDistance(word, c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return bestDistance <= Math.max(1, Math.floor(word.length / 3)) ? best : undefined;
}

/** Levenshtein distance with adjacent transpositions (optimal string alignment). */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  return d[a.length]![b.length]!;
}

/**
 * One of a fixed set of values. The CLI spells values in kebab-case (`riemann-left`,
 * `smoothgrad-sq`, `latent-neighbors`); the snake_case spellings of earlier versions and of Captum
 * (`riemann_left`) are accepted too. Returns the library's own spelling from `allowed`.
 * @throws UsageError listing every value (and the closest one) when `value` is none of them
 */
export function choice<T extends string>(
  value: string | undefined,
  allowed: readonly T[],
  flag: string,
  command?: CommandSpec,
): T | undefined {
  if (value === undefined) return undefined;
  const key = (v: string) => v.toLowerCase().replace(/_/g, "-");
  const found = allowed.find((a) => key(a) === key(value));
  if (found !== undefined) return found;
  const shown = allowed.map(key);
  const close = closest(key(value), shown);
  throw new UsageError(
    `${flag} must be one of ${shown.join(", ")}; got "${value}"${close ? ` (did you mean ${close}?)` : ""}`,
    command,
  );
}

/** A value list for help texts, in the CLI's kebab-case spelling. */
export function kebabList(values: readonly string[]): string {
  return values.map((v) => v.replace(/_/g, "-")).join("|");
}

/** node:util's messages carry advice for script authors ("To specify a positional argument…"); keep the first sentence. */
function cleanParseError(e: Error): string {
  const first = e.message.split(/\.\s/)[0]!.replace(/\.$/, "");
  return first.replace(/^Unknown option/, "unknown option").replace(/^Option/, "option");
}

/**
 * The short form of a usage error: the message and where to read more, so the error does not
 * scroll away behind the whole help text.
 */
export function usageErrorText(message: string, command?: CommandSpec, program = "pathlens"): string {
  const more = command ? `${program} ${command.name} --help` : `${program} --help`;
  return `${program}: ${message}\nsee "${more}" for the options`;
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
  for (const [name, o] of Object.entries(spec.options))
    for (const old of o.deprecatedAliases ?? []) rows.push([`--${old}`, `deprecated name of --${name}`]);
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
