/**
 * Numeric CSV tables with a header row (RFC 4180 quoting), for tabular explanations.
 */

import { PathlensError } from "../errors.js";
import { FILE_SIZE_LIMITS, readRegularText } from "./regular-file.js";

/** A parsed numeric table. */
export interface NumericTable {
  header: string[];
  /** rows × columns, row-major. */
  values: Float64Array;
  rows: number;
}

/** A CSV file that cannot be read as a numeric table; names the file, line and column. */
export class CsvError extends PathlensError {
  override name = "CsvError";
}

/** Splits CSV text into records of fields (quotes, escaped quotes, CRLF). */
export function splitCsv(text: string): string[][] {
  const records: string[][] = [];
  let field = "";
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"' && field === "") quoted = true;
    else if (ch === ",") {
      record.push(field);
      field = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      record.push(field);
      records.push(record);
      record = [];
      field = "";
    } else field += ch;
  }
  if (field !== "" || record.length) {
    record.push(field);
    records.push(record);
  }
  return records.filter((r) => !(r.length === 1 && r[0]!.trim() === ""));
}

/** Parses a numeric CSV with a header row. */
export function parseNumericCsv(text: string, source = "table.csv"): NumericTable {
  const records = splitCsv(text);
  if (records.length < 2) throw new CsvError(`${source}: needs a header row and at least one data row`);
  const header = records[0]!.map((h) => h.trim());
  const values = new Float64Array((records.length - 1) * header.length);
  for (let r = 1; r < records.length; r++) {
    const rec = records[r]!;
    if (rec.length !== header.length) {
      throw new CsvError(`${source}: line ${r + 1} has ${rec.length} fields, the header ${header.length}`);
    }
    rec.forEach((f, c) => {
      const v = Number(f.trim());
      if (f.trim() === "" || !Number.isFinite(v)) {
        throw new CsvError(
          `${source}: line ${r + 1}, column ${c + 1} ("${header[c]}"): "${f}" is not a number`,
        );
      }
      values[(r - 1) * header.length + c] = v;
    });
  }
  return { header, values, rows: records.length - 1 };
}

/** Reads a numeric CSV file. */
export async function readNumericCsv(path: string): Promise<NumericTable> {
  const text = await readRegularText(path, FILE_SIZE_LIMITS.text, (p) => new CsvError(`${path}: ${p}`));
  return parseNumericCsv(text, path);
}
