import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { integratedGradients } from "../attribution/ig.js";
import { CsvError, parseNumericCsv } from "../io/csv.js";
import { decodeImage, encodePng, ImageDecodeError, readImage } from "../io/image.js";
import { loadModel } from "../io/model-file.js";
import { nodeBackend } from "../runtime/node.js";
import { ROOT } from "../testing/cli.js";
import { explainImage } from "./image.js";
import { checkPreprocess, geometry, PreprocessError, toModelTensor } from "./preprocess.js";
import { explainTabular, TabularInputError } from "./tabular.js";

const backend = nodeBackend();
const SHAPES = join(ROOT, "examples", "image-shapes");
const TAB = join(ROOT, "examples", "tabular");

/** A w×h RGBA image whose pixel (x, y) is (x, y, x + y, 255). */
function ramp(w: number, h: number) {
  const data = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set([x, y, x + y, 255], (y * w + x) * 4);
  return { width: w, height: h, data };
}

test("preprocessing: centre crop, scale/mean/std, NCHW vs NHWC, RGB vs BGR, by hand", () => {
  const img = geometry(ramp(6, 4), { crop: [2, 2] });
  assert.deepEqual([img.width, img.height], [2, 2]);
  assert.deepEqual(Array.from(img.data.subarray(0, 4)), [2, 1, 3, 255]); // top-left of the crop is (2, 1)
  const p = { scale: 0.5, mean: [1, 0, 0], std: [2, 1, 1] };
  const nchw = toModelTensor(img, p);
  assert.deepEqual(nchw.dims, [1, 3, 2, 2]);
  assert.equal(nchw.data[0], (2 * 0.5 - 1) / 2); // R of (2,1)
  assert.equal(nchw.data[4], 1 * 0.5); // G plane starts at 4
  const nhwc = toModelTensor(img, { ...p, layout: "nhwc", channels: "bgr" });
  assert.deepEqual(nhwc.dims, [1, 2, 2, 3]);
  assert.equal(nhwc.data[0], (3 * 0.5 - 1) / 2); // first channel is B (= 3) with R's mean/std
  assert.deepEqual(geometry(ramp(8, 4), { resize: 2 }).width, 4); // shorter side 4 → 2, width 8 → 4
  assert.throws(() => checkPreprocess({ std: [1, 0, 1] }), PreprocessError);
  assert.throws(() => checkPreprocess({ mean: [1, 2] as never }), /three numbers/);
  assert.throws(() => geometry(ramp(4, 4), { crop: 8 }), /larger than the image/);
});

test("PNG round trip and clear errors for unreadable images", async () => {
  const img = ramp(5, 3);
  assert.deepEqual(Array.from(decodeImage(encodePng(img)).data), Array.from(img.data));
  assert.throws(
    () => decodeImage(new TextEncoder().encode("not an image"), "x.png"),
    (e: Error) => e instanceof ImageDecodeError && /x\.png: not a PNG or JPEG/.test(e.message),
  );
  const png = readFileSync(join(SHAPES, "circle.png"));
  assert.throws(() => decodeImage(new Uint8Array(png.subarray(0, 60)), "cut.png"), /cut\.png: cannot decode/);
  await assert.rejects(() => readImage("/no/such/file.png"), /ENOENT/);
});

test("explainImage: the shapes model sees its classes; attributions are IG of the preprocessed input from a black image", async () => {
  const model = await loadModel(join(SHAPES, "model.onnx"));
  const config = JSON.parse(readFileSync(join(SHAPES, "config.json"), "utf8"));
  const labels = ["circle", "square", "triangle"];
  for (const name of labels) {
    const img = await readImage(join(SHAPES, `${name}.png`));
    const e = await explainImage(model, img, { backend, preprocess: config.preprocess, labels, steps: 32 });
    assert.equal(e.prediction.label, name);
    // the same numbers straight from integratedGradients with the black image preprocessed
    const x = toModelTensor(e.image, config.preprocess);
    const black = toModelTensor(e.image, config.preprocess, () => 0);
    const ig = await integratedGradients(model, {
      backend,
      inputs: { image: x },
      baselines: black,
      target: e.target.index,
      steps: 32,
    });
    ig.attributions.image!.data.forEach((v, i) => assert.ok(Math.abs(v - e.attributions.data[i]!) < 1e-9));
    const total = e.pixels.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(total - (e.outputAtInput - e.outputAtBaseline) - e.delta) < 1e-6);
    assert.equal(e.overlay.width, 32);
  }
});

test("CSV parsing: quotes, CRLF, and errors naming line and column", () => {
  const t = parseNumericCsv('a,"b ""x""",c\r\n1,2,3\r\n4,5,6\r\n', "t.csv");
  assert.deepEqual(t.header, ["a", 'b "x"', "c"]);
  assert.deepEqual(Array.from(t.values), [1, 2, 3, 4, 5, 6]);
  assert.throws(
    () => parseNumericCsv("a,b\n1,x\n", "t.csv"),
    (e: Error) => e instanceof CsvError && /line 2, column 2 \("b"\)/.test(e.message),
  );
  assert.throws(() => parseNumericCsv("a,b\n1\n", "t.csv"), /line 2 has 1 fields/);
});

test("explainTabular: POS/NEG features carry the attribution, NOISE does not; wrong widths are refused", async () => {
  const model = await loadModel(join(TAB, "model.onnx"));
  const table = parseNumericCsv(readFileSync(join(TAB, "rows.csv"), "utf8"));
  const e = await explainTabular(model, table, { backend, steps: 32 });
  const d = e.features.length;
  const mean = (kind: string) => {
    const cols = e.features.flatMap((f, j) => (f.startsWith(kind) ? [j] : []));
    let s = 0;
    for (let r = 0; r < e.rows; r++) for (const j of cols) s += Math.abs(e.attributions[r * d + j]!);
    return s / (e.rows * cols.length);
  };
  assert.ok(mean("NOISE") <= 0.01, `NOISE ${mean("NOISE")}`);
  assert.ok(mean("POS") > 10 * mean("NOISE"));
  const narrow = { header: ["a", "b"], values: Float64Array.of(1, 2), rows: 1 };
  await assert.rejects(
    () => explainTabular(model, narrow, { backend }),
    (err: Error) => err instanceof TabularInputError && /2 columns.*96 features/.test(err.message),
  );
  const means = await explainTabular(model, table, { backend, steps: 8, baseline: "mean" });
  assert.ok(
    Math.abs(
      means.baseline[0]! - table.values.filter((_, i) => i % d === 0).reduce((a, b) => a + b, 0) / table.rows,
    ) < 1e-12,
  );
});
