/**
 * Prints the README's "when to use which path" table: every path method on the demo models
 * (digits CNN, shapes model) with default steps, and writes their comparison reports to
 * out/compare-*. Run: node --import tsx tools/compare-demo.ts
 */
import { join } from "node:path";
import { compareDemoModels } from "../src/cli/demo-compare.js";
import { mean } from "../src/explain/compare.js";

const root = join(import.meta.dirname, "..");
const results = await compareDemoModels(join(root, "examples"), join(root, "out"));
const f = (v: number | undefined, d = 3) =>
  v === undefined ? "—" : Math.abs(v) < 1e-2 ? v.toExponential(1) : v.toFixed(d);
for (const r of results) {
  console.log(
    `\n${r.name} (${r.comparison.numExamples} examples; removed features become ${r.comparison.fill})\n`,
  );
  console.log(
    "| method | seconds | deletion AUC ↓ | insertion AUC ↑ | infidelity ↓ | max-sensitivity ↓ | completeness gap ↓ |",
  );
  console.log("|---|---|---|---|---|---|---|");
  for (const m of r.comparison.rows) {
    console.log(
      `| ${m.name} | ${m.seconds.toFixed(2)} | ${f(m.deletion.meanAuc)} | ${f(m.insertion.meanAuc)} | ${f(m.infidelity && mean(m.infidelity))} | ${f(m.sensitivity && mean(m.sensitivity))} | ${f(m.relativeGap)} |`,
    );
  }
  console.log(`\nreport: ${r.file}`);
}
