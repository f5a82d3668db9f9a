/**
 * Data sets as rows: a `.npy` with a leading row axis, a numeric CSV (header row), or a folder of
 * images (one row per PNG/JPEG, in file-name order, preprocessed as the model expects). A source
 * reads any range of rows; a row that cannot be read (a broken image) is reported, not thrown, so
 * the job records it and goes on.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { dirname, extname, join } from "node:path";
import { checkPreprocess, geometry, type Preprocess, toModelTensor } from "../explain/preprocess.js";
import { readNumericCsv } from "../io/csv.js";
import { decodeImage } from "../io/image.js";
import { readNpy } from "../io/npy.js";
import { castFloat, concatRows, isFloat, sizeOf, sliceRows, type Tensor, tensor } from "../tensor/tensor.js";
import { DatasetError } from "./errors.js";

/** Rows [start, end) of a source: the tensor of the rows that could be read, and why the others could not. */
export interface RowBlock {
  /** Row indices (absolute) present in `tensor`, ascending. */
  rows: number[];
  /** Those rows stacked on axis 0 (undefined when none could be read). */
  tensor?: Tensor;
  /** Absolute row index → reason it could not be read. */
  failed: Map<number, string>;
}

/** A data set read row range by row range. */
export interface RowSource {
  /** What it is, for messages ("rows.npy", "images/ (120 files)"). */
  readonly label: string;
  readonly rows: number;
  /** sha256 of the content (not the path), so moving the data does not change a job. */
  readonly digest: string;
  read(start: number, end: number): Promise<RowBlock>;
}

/** How a model input wants its rows: element type and the per-row dims (0 = free). */
export interface RowLayout {
  dtype?: string;
  rowDims?: number[];
}

const IMAGE_EXT = new Set([".png", ".jpg", ".jpeg"]);

/** A copy of a JSON value with object keys sorted and undefined entries dropped, so equal settings hash and print the same. */
export function canonical<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => canonical(v)) as T;
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value).sort()) {
    const v = (value as Record<string, unknown>)[k];
    if (v !== undefined) out[k] = canonical(v);
  }
  return out as T;
}

/** sha256 hex of bytes. */
export function sha256(bytes: Uint8Array | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * Opens `path` as rows: a folder of images, a `.csv`, or a `.npy` (anything else is read as .npy).
 * Rows are cast to the model input's float type and flat rows are reshaped to its static dims.
 * @throws DatasetError naming the file when it cannot be read or holds no rows
 */
export async function openRowSource(
  path: string,
  layout: RowLayout = {},
  preprocess?: Preprocess,
): Promise<RowSource> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch (e) {
    throw new DatasetError(`${path}: cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  if (info.isDirectory()) return imageFolder(path, preprocess ?? {}, layout);
  if (extname(path).toLowerCase() === ".csv") {
    const table = await readNumericCsv(path);
    const t = tensor("float32", [table.rows, table.header.length], Float32Array.from(table.values));
    return tensorSource(path, fitLayout(t, layout, path), sha256(await readFile(path)));
  }
  const t = await readNpy(path);
  return tensorSource(path, fitLayout(t, layout, path), sha256(await readFile(path)));
}

/** Casts float rows to the input's float type and reshapes flat rows to its static dims. */
function fitLayout(t: Tensor, layout: RowLayout, path: string): Tensor {
  if (t.dims.length === 0) throw new DatasetError(`${path}: is a scalar; rows need a leading axis`);
  let out = t;
  const want = layout.dtype;
  if (want && want !== t.dtype) {
    if ((want === "float32" || want === "float64") && isFloat(t.dtype)) out = castFloat(t, want);
    else throw new DatasetError(`${path}: holds ${t.dtype}, the model input takes ${want}`);
  }
  const dims = layout.rowDims;
  if (dims?.length && dims.every((d) => d > 0) && sizeOf(dims) === sizeOf(out.dims.slice(1)))
    out = { ...out, dims: [out.dims[0]!, ...dims] };
  return out;
}

/** A source over a tensor in memory (npy, csv). */
export function tensorSource(label: string, t: Tensor, digest: string): RowSource {
  const rows = t.dims[0]!;
  if (rows === 0) throw new DatasetError(`${label}: holds no rows`);
  return {
    label,
    rows,
    digest,
    async read(start, end) {
      return {
        rows: Array.from({ length: end - start }, (_, k) => start + k),
        tensor: sliceRows(t, start, end),
        failed: new Map(),
      };
    },
  };
}

async function imageFolder(dir: string, preprocess: Preprocess, layout: RowLayout): Promise<RowSource> {
  const names = (await readdir(dir)).filter((n) => IMAGE_EXT.has(extname(n).toLowerCase())).sort();
  if (names.length === 0) throw new DatasetError(`${dir}: holds no .png/.jpg/.jpeg images`);
  const pre = checkPreprocess({ ...preprocess });
  const dims = layout.rowDims ?? [];
  // a model with a static [3, H, W] (or [H, W, 3]) input: resize to it unless told otherwise
  if (pre.resize === undefined && pre.crop === undefined && dims.length === 3 && dims.every((d) => d > 0)) {
    pre.resize = pre.layout === "nhwc" ? [dims[0]!, dims[1]!] : [dims[1]!, dims[2]!];
  }
  const hash = createHash("sha256");
  for (const n of names)
    hash
      .update(n)
      .update("\0")
      .update(await readFile(join(dir, n)));
  return {
    label: `${dir}/ (${names.length} images)`,
    rows: names.length,
    digest: hash.digest("hex"),
    async read(start, end) {
      const ok: number[] = [];
      const parts: Tensor[] = [];
      const failed = new Map<number, string>();
      for (let r = start; r < end; r++) {
        const file = join(dir, names[r]!);
        try {
          const img = geometry(decodeImage(await readFile(file), file), pre);
          let t: Tensor = toModelTensor(img, pre);
          if (layout.dtype === "float64") t = castFloat(t, "float64");
          if (parts.length && t.dims.join() !== parts[0]!.dims.join())
            throw new DatasetError(
              `${file}: is ${t.dims.slice(1).join("×")} after preprocessing, others are ${parts[0]!.dims.slice(1).join("×")}`,
            );
          parts.push(t);
          ok.push(r);
        } catch (e) {
          failed.set(r, `${names[r]}: ${(e as Error).message}`);
        }
      }
      return { rows: ok, tensor: parts.length ? concatRows(parts) : undefined, failed };
    },
  };
}

/** A config.json next to the model with a `preprocess` entry (image models), if there is one. */
export async function modelPreprocess(modelPath: string): Promise<Preprocess | undefined> {
  const file = join(dirname(modelPath), "config.json");
  if (!existsSync(file)) return undefined;
  try {
    return (JSON.parse(await readFile(file, "utf8")) as { preprocess?: Preprocess }).preprocess;
  } catch {
    return undefined;
  }
}
