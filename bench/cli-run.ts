/** Child processes of the benchmark: the built pathlens CLI and Python, timed from spawn to exit. */
import { spawn } from "node:child_process";
import { mkdir, readFile, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** The repository root. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
/** The benchmark's scratch folder (gitignored). */
export const WORK = join(ROOT, ".bench");
/** The CLI the benchmark spawns (`npm run build` makes it). */
export const CLI = join(ROOT, "dist", "cli", "main.js");

/** One finished child process. */
export interface ChildRun {
  /** Wall time from spawn to exit. */
  seconds: number;
  /** The child's peak resident set (pathlens runs only; 0 for others). */
  maxRssMiB: number;
  stdout: string;
}

/** Runs the built CLI in a fresh process; reports wall time and the child's peak RSS. */
export async function runCli(args: string[], env: Record<string, string> = {}): Promise<ChildRun> {
  await mkdir(WORK, { recursive: true });
  const rssFile = join(WORK, `rss-${Date.now()}-${Math.random().toString(36).slice(2)}.txt`);
  const run = await runProcess(
    process.execPath,
    ["--import", pathToFileURL(join(ROOT, "bench", "report-rss.mjs")).href, CLI, ...args],
    { ...env, PATHLENS_RSS_FILE: rssFile },
    `pathlens ${args.join(" ")}`,
  );
  const kib = Number(await readFile(rssFile, "utf8").catch(() => "0"));
  await rm(rssFile, { force: true });
  return { ...run, maxRssMiB: kib / 1024 };
}

/** Runs a command to its end; rejects with its stderr when it fails. */
export function runProcess(
  command: string,
  args: string[],
  env: Record<string, string>,
  what: string,
): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const p = spawn(command, args, { env: { ...process.env, ...env } });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    p.on("error", reject);
    p.on("close", (code) => {
      const seconds = (performance.now() - t) / 1000;
      if (code !== 0) return reject(new Error(`${what} failed (${code}): ${stderr.trim().slice(-2000)}`));
      resolve({ seconds, maxRssMiB: 0, stdout });
    });
  });
}
