/**
 * A one-line progress bar on stderr, drawn only when stderr is a terminal and not silenced.
 */

/** Draws progress; `done()` clears the line. */
export interface ProgressReporter {
  update(done: number, total: number): void;
  done(): void;
}

/** A progress bar for long runs (`quiet` or a non-terminal stderr: nothing is drawn). */
export function progressReporter(
  opts: { quiet?: boolean; label?: string; stream?: NodeJS.WriteStream } = {},
): ProgressReporter {
  const stream = opts.stream ?? process.stderr;
  const active = !opts.quiet && stream.isTTY === true;
  let last = 0;
  let drawn = false;
  return {
    update(done, total) {
      if (!active) return;
      const now = Date.now();
      if (done < total && now - last < 100) return; // at most 10 redraws a second
      last = now;
      const width = 30;
      const frac = total > 0 ? Math.min(1, done / total) : 0;
      const bar = "█".repeat(Math.round(frac * width)).padEnd(width, "░");
      stream.write(`\r${opts.label ?? ""} ${bar} ${done}/${total} gradient evaluations`);
      drawn = true;
    },
    done() {
      if (active && drawn) stream.write("\r\x1b[2K");
    },
  };
}
