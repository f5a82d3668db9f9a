/**
 * Reading a text model laid out as Hugging Face / Optimum exports: `model.onnx`,
 * `tokenizer.json` (+ optional `tokenizer_config.json`) and `config.json` with `id2label`.
 */
import { existsSync } from "node:fs";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import { loadModel } from "../io/model-file.js";
import { readJsonFile } from "../io/regular-file.js";
import { TextExplainError, type TextModel } from "./text-encode.js";

async function readJson(path: string): Promise<Record<string, unknown>> {
  return readJsonFile(path, (p) => new TextExplainError(`${path}: ${p}`));
}

/**
 * Loads a model folder (or a model file with `tokenizer` naming its tokenizer.json).
 * @throws TextExplainError naming the missing or unreadable file
 */
export async function loadTextModel(path: string, tokenizerPath?: string): Promise<TextModel> {
  const isDir = existsSync(path) && (await stat(path)).isDirectory();
  const dir = isDir ? path : join(path, "..");
  const modelFile = isDir ? join(path, "model.onnx") : path;
  if (!existsSync(modelFile)) throw new TextExplainError(`${modelFile}: no such model file`);
  const tokFile = tokenizerPath ?? join(dir, "tokenizer.json");
  if (!existsSync(tokFile)) {
    throw new TextExplainError(
      `${tokFile}: no tokenizer.json (a Hugging Face tokenizers file is needed next to the model, or pass --tokenizer)`,
    );
  }
  const tokJson = await readJson(tokFile);
  const tokConfigFile = join(dir, "tokenizer_config.json");
  const tokConfig = existsSync(tokConfigFile) ? await readJson(tokConfigFile) : {};
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(tokJson, tokConfig);
  } catch (e) {
    throw new TextExplainError(`${tokFile}: not a tokenizer this package can load (${(e as Error).message})`);
  }
  const configFile = join(dir, "config.json");
  const config = existsSync(configFile) ? await readJson(configFile) : {};
  const id2label = config.id2label as Record<string, string> | undefined;
  const labels = id2label
    ? Object.keys(id2label)
        .sort((a, b) => Number(a) - Number(b))
        .map((k) => id2label[k]!)
    : undefined;
  const maxLength = Number(config.max_position_embeddings ?? tokConfig.model_max_length ?? 0) || undefined;
  return {
    model: await loadModel(modelFile),
    tokenizer,
    labels,
    maxLength: maxLength && maxLength < 1e6 ? maxLength : undefined,
    config,
    source: path,
    tokenizerFile: tokFile,
  };
}
