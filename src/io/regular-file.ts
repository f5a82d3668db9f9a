/**
 * Reading input files safely: only regular files are read (a FIFO, a device such as /dev/zero
 * or a directory is refused at once instead of hanging or growing without bound), and a file
 * larger than a cap is refused before any of it is read.
 */
import { constants, type Stats } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { PathlensError } from "../errors.js";

/** Size caps per kind of input file, in bytes. */
export const FILE_SIZE_LIMITS = {
  /** Protobuf's own limit for one message: larger models must use external data. */
  model: 2 ** 31 - 1,
  /** Large arrays: Node's largest Buffer. */
  array: 2 ** 32 - 1,
  image: 256 * 2 ** 20,
  /** CSV, JSON, tokenizer.json. */
  text: 512 * 2 ** 20,
} as const;

/** Turns a problem description into the caller's typed error (which names the file). */
export type FileErrorFactory = (problem: string) => PathlensError;

function describeKind(st: Stats): string {
  if (st.isDirectory()) return "a directory";
  if (st.isFIFO()) return "a FIFO (named pipe)";
  if (st.isCharacterDevice() || st.isBlockDevice()) return "a device";
  if (st.isSocket()) return "a socket";
  return "not a regular file";
}

/**
 * Opens a file for reading without blocking on FIFOs and checks it is a regular file of at most
 * `maxBytes`. The caller closes the handle.
 * @returns the handle and the file's size
 */
export async function openRegularFile(
  path: string,
  maxBytes: number,
  error: FileErrorFactory,
): Promise<{ handle: FileHandle; size: number }> {
  let handle: FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting forever.
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw error(`cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw error(`is ${describeKind(st)}, not a regular file`);
    if (st.size > maxBytes) {
      throw error(`the file has ${st.size} bytes, more than the limit of ${maxBytes}`);
    }
    return { handle, size: st.size };
  } catch (e) {
    await handle.close();
    throw e;
  }
}

/**
 * Reads a whole regular file of at most `maxBytes` bytes.
 * @param error - builds the typed error to throw, given a one-line problem
 */
export async function readRegularFile(
  path: string,
  maxBytes: number,
  error: FileErrorFactory,
): Promise<Uint8Array> {
  const { handle, size } = await openRegularFile(path, maxBytes, error);
  try {
    const out = new Uint8Array(size);
    let done = 0;
    while (done < size) {
      const { bytesRead } = await handle.read(out, done, size - done, done);
      if (bytesRead === 0) throw error(`the file shrank while being read (${done} of ${size} bytes)`);
      done += bytesRead;
    }
    return out;
  } catch (e) {
    if (e instanceof PathlensError) throw e;
    throw error(`cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  } finally {
    await handle.close();
  }
}

/** Reads a regular file as UTF-8 text (see {@link readRegularFile}). */
export async function readRegularText(
  path: string,
  maxBytes: number,
  error: FileErrorFactory,
): Promise<string> {
  return new TextDecoder("utf-8").decode(await readRegularFile(path, maxBytes, error));
}

/** Line and column (1-based) of a character offset, for messages. */
function lineColumn(text: string, offset: number): string {
  let line = 1;
  let last = -1;
  for (let i = 0; i < offset && i < text.length; i++)
    if (text.charCodeAt(i) === 10) {
      line++;
      last = i;
    }
  return `line ${line}, column ${offset - last}`;
}

/**
 * Reads a regular file as JSON; a syntax error becomes the caller's typed error naming the
 * file, line and column (never a raw SyntaxError). A top-level value that is not an object is
 * refused too.
 */
export async function readJsonFile(
  path: string,
  error: FileErrorFactory,
  maxBytes: number = FILE_SIZE_LIMITS.text,
): Promise<Record<string, unknown>> {
  const text = await readRegularText(path, maxBytes, error);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const at = /position (\d+)/.exec(msg);
    const where = at ? ` at ${lineColumn(text, Number(at[1]))}` : "";
    throw error(`not valid JSON${where} (${msg.split("\n")[0]!.slice(0, 120)})`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw error("must hold a JSON object");
  }
  return value as Record<string, unknown>;
}
