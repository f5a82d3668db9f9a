/**
 * EIG `original-neighbors` timed side by side against an older revision, in one run:
 *
 *   node --import tsx bench/eig-versus.ts [--rev 2887443] [--runs 3] [--no-cache] [rows…]
 *                                                         (rows default: 360 3600)
 *
 * The old revision's files (src/, examples/digits, package.json, tsconfig.json) are exported with
 * `git archive` into a folder under the system temp directory (kept between runs, keyed by the
 * commit; no worktree is registered, so the repository's git metadata is untouched), with this
 * checkout's node_modules symlinked in and this checkout's bench/eig-neighbors.ts copied over, so
 * both sides run the same bench code on their own src/. Each run spawns one process per side, the
 * sides interleaved (old, new, old, new, …) so that the machine's load hits both alike; the
 * medians and their ratio are printed with the load average. The sizes run in the given order
 * within each process, so with the default `360 3600` the 3600-row run comes after a 360-row one
 * has loaded onnxruntime and compiled the code (on both sides alike). `--no-cache` turns off the
 * on-disk gradient cache (PATHLENS_CACHE=0), which this checkout has and 2887443 had not, so the
 * two sides then build their gradient sessions alike. 2887443 is the revision before the
 * neighbour-graph rewrite (issue 13 measured 0.5 / 2.2 / 17.8 s there for 360 / 1440 / 3600 rows).
 */
import { execFileSync, spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { EigNeighborsTiming } from "./eig-neighbors.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
/** The revision before the heap-based Dijkstra and the screened kNN (issue 13's "now"). */
export const EIG_BASE_REVISION = "2887443";

/** Options of {@link eigVersus}. */
export interface EigVersusOptions {
  /** The older revision (anything `git rev-parse` reads). */
  rev?: string;
  /** Processes per side. */
  runs?: number;
  /** Reference-set sizes, run in each process in this order. */
  rows?: number[];
  /** Called with each line as it is produced. */
  say?: (line: string) => void;
  /** Run both sides with the on-disk gradient cache off (PATHLENS_CACHE=0). */
  noCache?: boolean;
}

/** Side-by-side lines (header, one per process, the medians); see the module comment. */
export async function eigVersus(options: EigVersusOptions = {}): Promise<string[]> {
  const rev = options.rev ?? EIG_BASE_REVISION;
  const runs = options.runs ?? 3;
  const rows = options.rows ?? [360, 3600];
  const lines: string[] = [];
  const say = (l: string) => {
    lines.push(l);
    options.say?.(l);
  };
  let commit: string;
  try {
    commit = execFileSync("git", ["rev-parse", "--verify", `${rev}^{commit}`], {
      cwd: ROOT,
      encoding: "utf8",
    }).trim();
  } catch {
    say(`skipped: ${rev} is not a commit of this checkout (needs git and the repository's history)`);
    return lines;
  }
  const oldRoot = exportRevision(commit);
  const load = () =>
    loadavg()
      .map((l) => l.toFixed(2))
      .join(" ");
  say(
    `old = ${commit.slice(0, 7)} (${oldRoot}), new = this checkout; the same bench/eig-neighbors.ts, ` +
      `one process per side, interleaved old/new × ${runs}${options.noCache ? ", gradient cache off" : ""}; ` +
      `load average before: ${load()}`,
  );
  const times: Record<"old" | "new", EigNeighborsTiming[][]> = { old: [], new: [] };
  for (let r = 0; r < runs; r++) {
    for (const side of ["old", "new"] as const) {
      let t: EigNeighborsTiming[];
      try {
        t = await benchProcess(side === "old" ? oldRoot : ROOT, rows, options.noCache);
      } catch (e) {
        say(`skipped: ${(e as Error).message}`); // e.g. the old revision lacks what the bench imports
        return lines;
      }
      times[side].push(t);
      say(
        `  run ${r + 1} ${side}: ${t.map((x) => `${x.rows} rows ${x.seconds.toFixed(2)} s (CPU ${x.cpuSeconds.toFixed(2)} s)`).join(", ")}`,
      );
    }
  }
  say(`load average after: ${load()}`);
  rows.forEach((n, q) => {
    const med = (side: "old" | "new", key: "seconds" | "cpuSeconds") =>
      median(times[side].map((t) => t[q]![key]));
    const [ow, nw, oc, nc] = [
      med("old", "seconds"),
      med("new", "seconds"),
      med("old", "cpuSeconds"),
      med("new", "cpuSeconds"),
    ];
    say(
      `  ${n} reference rows, median of ${runs}: old ${ow.toFixed(2)} s, new ${nw.toFixed(2)} s → ${(ow / nw).toFixed(1)}× ` +
        `(CPU: old ${oc.toFixed(2)} s, new ${nc.toFixed(2)} s → ${(oc / nc).toFixed(1)}×)`,
    );
  });
  return lines;
}

/** The revision's files in a temp folder (exported once per commit), ready to run the bench. */
function exportRevision(commit: string): string {
  const dir = join(tmpdir(), `pathlens-rev-${commit.slice(0, 12)}`);
  if (!existsSync(join(dir, ".complete"))) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const tar = execFileSync(
      "git",
      ["archive", "--format=tar", commit, "src", "examples/digits", "package.json", "tsconfig.json"],
      { cwd: ROOT, maxBuffer: 1 << 30 },
    );
    execFileSync("tar", ["-x", "-C", dir], { input: tar });
    symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"), "dir");
    writeFileSync(join(dir, ".complete"), `${commit}\n`);
  }
  mkdirSync(join(dir, "bench"), { recursive: true });
  cpSync(join(ROOT, "bench", "eig-neighbors.ts"), join(dir, "bench", "eig-neighbors.ts"));
  return dir;
}

/** One bench process in `root`: its JSON lines. */
function benchProcess(root: string, rows: number[], noCache = false): Promise<EigNeighborsTiming[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "bench/eig-neighbors.ts", "--json", ...rows.map(String)],
      {
        cwd: root,
        stdio: ["ignore", "pipe", "inherit"],
        env: noCache ? { ...process.env, PATHLENS_CACHE: "0" } : process.env,
      },
    );
    let out = "";
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`bench in ${root} exited with ${code}`));
      resolve(
        out
          .split("\n")
          .filter((l) => l.startsWith("{"))
          .map((l) => JSON.parse(l) as EigNeighborsTiming),
      );
    });
  });
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const h = Math.floor(s.length / 2);
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const noCache = args.includes("--no-cache");
  if (noCache) args.splice(args.indexOf("--no-cache"), 1);
  const flag = (name: string) => {
    const i = args.indexOf(name);
    if (i < 0) return undefined;
    const v = args[i + 1];
    args.splice(i, 2);
    return v;
  };
  const rev = flag("--rev");
  const runs = flag("--runs");
  const rows = args.map(Number).filter((n) => n > 0);
  await eigVersus({
    rev,
    runs: runs ? Number(runs) : undefined,
    rows: rows.length ? rows : undefined,
    noCache,
    say: (l) => console.log(l),
  });
}
