import { readFileSync } from "node:fs";
import { open, readFile } from "node:fs/promises";
const f = process.argv[2]!;
async function oneRead(path: string) {
  const h = await open(path, "r");
  try {
    const { size } = await h.stat();
    const buf = Buffer.allocUnsafe(size);
    let off = 0;
    while (off < size) { const { bytesRead } = await h.read(buf, off, size - off, off); if (!bytesRead) break; off += bytesRead; }
    return buf;
  } finally { await h.close(); }
}
for (let r = 0; r < 3; r++) {
  let a = performance.now(); await readFile(f); const t1 = performance.now() - a;
  a = performance.now(); readFileSync(f); const t2 = performance.now() - a;
  a = performance.now(); await oneRead(f); const t3 = performance.now() - a;
  console.log(`promises.readFile ${t1.toFixed(0)} ms, readFileSync ${t2.toFixed(0)} ms, one read ${t3.toFixed(0)} ms`);
}
