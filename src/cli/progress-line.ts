/**
 * A one-line progress bar on stderr, drawn only when stderr is a terminal and not silenced.
 */

/** Draws progress; `done()` clears the line. */
export interface ProgressReporter {
  update(done: number, total: number): void;
  done(): void;
}

/**
 * A progress bar for long runs (`quiet` or a non-terminal stderr: nothing is drawn), with the
 * estimated time left from the rate since the first update.
 */
export function progressReporter(
  opts: { quiet?: boolean; label?: string; stream?: NodeJS.WriteStream; clock?: () => number } = {},
): ProgressReporter {
  const stream = opts.stream ?? process.stderr;
  const clock = opts.clock ?? Date.now;
  const active = !opts.quiet && stream.isTTY === true;
  let last = 0;
  let drawn = false;
  let first: { at: number; done: number } | undefined;
  return {
    update(done, total) {
      if (!active) return;
      const now = clock();
      first ??= { at: now, done };
      if (done < total && now - last < 100) return; // at most 10 redraws a second
      last = now;
      const width = 30;
      const frac = total > 0 ? Math.min(1, done / total) : 0;
      const bar = "█".repeat(Math.round(frac * width)).padEnd(width, "░");
      const rate = (done - first.done) / (now - first.at); // evaluations per ms
      const eta = done < total && rate > 0 ? `, ETA ${duration((total - done) / rate)}` : "";
      stream.write(`\r${opts.label ?? ""} ${bar} ${done}/${total} gradient evaluations${eta}\x1b[K`);
      drawn = true;
    },
    done() {
      if (active && drawn) stream.write("\r\x1b[2K");
    },
  };
}

/** A duration in ms as "42 s", "3 min 05 s" or "1 h 02 min". */
export function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
}
