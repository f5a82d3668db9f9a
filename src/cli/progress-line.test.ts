import assert from "node:assert/strict";
import { test } from "node:test";
import { duration, progressReporter } from "./progress-line.js";

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

test("the progress bar estimates the time left from the rate so far", () => {
  const tty = stream(true);
  let now = 1_000;
  const p = progressReporter({ stream: tty.s, label: "explain", clock: () => now });
  p.update(0, 100); // the start: no rate yet
  assert.doesNotMatch(tty.chunks[0]!, /ETA/);
  now += 10_000; // 25 evaluations in 10 s → 75 left take 30 s
  p.update(25, 100);
  assert.match(tty.chunks[1]!, /25\/100 gradient evaluations, ETA 30 s/);
  now += 10_000;
  p.update(100, 100);
  assert.doesNotMatch(tty.chunks[2]!, /ETA/);
  assert.equal(duration(185_000), "3 min 05 s");
  assert.equal(duration(3_720_000), "1 h 02 min");
});
