// Preloaded into benchmarked CLI processes: writes the process's peak RSS (KiB) to
// $PATHLENS_RSS_FILE when it exits, so the benchmark measures the whole process.
import { writeFileSync } from "node:fs";

process.on("exit", () => {
  const file = process.env.PATHLENS_RSS_FILE;
  if (file) writeFileSync(file, String(process.resourceUsage().maxRSS));
});
