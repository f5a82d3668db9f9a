import assert from "node:assert/strict";
import { test } from "node:test";
import { progressReporter } from "./progress-line.js";

/** A stand-in stderr that records what is written. */
function stream(isTTY: boolean) {
  const chunks: string[] = [];
  return { chunks, s: { isTTY, write: (c: string) => chunks.push(c) > 0 } as unknown as NodeJS.WriteStream };
}

test("the progress bar draws on a terminal, clears at the end, and is silent otherwise", () => {
  const tty = stream(true);
  const p = progressReporter({ stream: tty.s, label: "explain" });
  p.update(5, 10);
  p.update(10, 10);
  p.done();
  assert.match(tty.chunks[0]!, /explain .* 5\/10 gradient evaluations/);
  assert.match(tty.chunks[1]!, /10\/10/);
  assert.equal(tty.chunks.at(-1), "\r\x1b[2K");
  const pipe = stream(false);
  const q = progressReporter({ stream: pipe.s });
  q.update(1, 2);
  q.done();
  assert.deepEqual(pipe.chunks, []);
  const quiet = stream(true);
  const r = progressReporter({ stream: quiet.s, quiet: true });
  r.update(1, 2);
  r.done();
  assert.deepEqual(quiet.chunks, []);
});
