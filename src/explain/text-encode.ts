/**
 * Tokenising a text (or a pair) for the text explainers: ids, token-type ids, which tokens the
 * tokenizer inserted ([CLS], [SEP], …), and the words of the original text each token belongs
 * to. Words come from the tokenizer's own normaliser and pre-tokeniser, so a word the model only
 * sees as [UNK] keeps its place (and its original spelling); when that alignment is not possible
 * (token ids given directly, tokenizers that rewrite text) sub-word pieces are merged by their
 * markers instead.
 */
import { PathlensError } from "../errors.js";
import type { ModelProto } from "../onnx/types.js";

/**
 * What pathlens uses of a tokenizer — the part of `@huggingface/tokenizers`' `Tokenizer` the text
 * explainers call. Declared here so that pathlens's types never pull that package's declarations
 * into a consumer's compilation.
 */
export interface TextTokenizer {
  /** Token ids (special tokens included) and token type ids of a text, or of a pair of texts. */
  encode(
    text: string,
    options: { text_pair?: string | null; return_token_type_ids?: boolean; add_special_tokens?: boolean },
  ): { ids: number[]; token_type_ids: number[] };
  /** A token's id (undefined when not in the vocabulary). */
  token_to_id(token: string): number | undefined;
  /** A token id's text (undefined when not in the vocabulary). */
  id_to_token(id: number): string | undefined;
}

/** A tokenizer plus what the explainers need to know about the model. */
export interface TextModel {
  model: ModelProto;
  /** The tokenizer (a Hugging Face tokenizers `Tokenizer` read from tokenizer.json). */
  tokenizer: TextTokenizer;
  /** Class names by index (config.json id2label). */
  labels?: string[];
  /** Longest input the model takes (position embeddings). */
  maxLength?: number;
  /** config.json (problem_type, type_vocab_size, …), when the folder has one. */
  config?: Record<string, unknown>;
  /** Where the model came from (for messages). */
  source?: string;
  /** The tokenizer.json it was read from (named when the tokenizer fails on a text). */
  tokenizerFile?: string;
}

/** A problem with a text model, its tokenizer or the text. */
export class TextExplainError extends PathlensError {
  override name = "TextExplainError";
}

/** One word of the explained text(s). */
export interface TextWord {
  /** The word as written in the original text (its normalised form when it cannot be found). */
  word: string;
  /** Indices of its tokens. */
  tokens: number[];
  /** 0: the text, 1: the second text of a pair. */
  sequence: number;
  /** Character offsets [start, end) in its text, when found. */
  start?: number;
  end?: number;
}

/** A tokenised text. */
export interface EncodedText {
  ids: number[];
  typeIds: number[];
  tokens: string[];
  /** Tokens the tokenizer inserted ([CLS], [SEP], …); [UNK] is not one of them. */
  special: boolean[];
  /** Word index of each token (−1 for inserted tokens). */
  owner: number[];
  words: TextWord[];
  warnings: string[];
}

/** Options of {@link encodeText}. */
export interface EncodeOptions {
  textPair?: string;
  /** Explain these ids instead of tokenising (words are then merged from the pieces). */
  ids?: number[];
  /** Truncate texts longer than the model's maximum (default true; a warning is returned). */
  truncate?: boolean;
}

/** Tokenises `text` (and `textPair`) as the model's tokenizer does, with words. */
export function encodeText(tm: TextModel, text: string, options: EncodeOptions = {}): EncodedText {
  const { tokenizer } = tm;
  const warnings: string[] = [];
  let ids: number[];
  let typeIds: number[];
  if (options.ids) {
    ids = [...options.ids];
    typeIds = ids.map(() => 0);
  } else {
    const enc = guarded(tm, () =>
      tokenizer.encode(text, { text_pair: options.textPair ?? null, return_token_type_ids: true }),
    );
    ids = enc.ids;
    typeIds = enc.token_type_ids;
    const bad = ids.findIndex((id) => !Number.isSafeInteger(id) || id < 0);
    if (bad >= 0)
      throw new TextExplainError(
        `${tokenizerName(tm)}: the tokenizer gave no id for token ${bad} of the text (is the file's vocab or unk_token missing?)`,
      );
  }
  const full = ids.length;
  const max = tm.maxLength;
  if (max && ids.length > max) {
    if (options.truncate === false) {
      throw new TextExplainError(
        `the text has ${ids.length} tokens; the model takes at most ${max} (truncate it, or allow truncation)`,
      );
    }
    warnings.push(
      `the text has ${ids.length} tokens; only the first ${max - 1} and the final separator are explained`,
    );
    ids = [...ids.slice(0, max - 1), ids[ids.length - 1]!];
    typeIds = [...typeIds.slice(0, max - 1), typeIds[typeIds.length - 1]!];
  }
  const inserted = guarded(tm, () => insertedIds(tokenizer));
  const special = ids.map((id) => inserted.has(id));
  const tokens = guarded(tm, () => ids.map((id) => tokenText(tokenizer, id)));
  const aligned = options.ids
    ? undefined
    : guarded(tm, () => alignWords(tokenizer, tokens, special, full, [text, options.textPair]));
  const { words, owner } = aligned ?? guarded(tm, () => mergePieces(tokens, special));
  return { ids, typeIds, tokens, special, owner, words, warnings };
}

function tokenizerName(tm: TextModel): string {
  return tm.tokenizerFile ?? (tm.source ? `${tm.source} (tokenizer)` : "tokenizer.json");
}

/** Runs a tokenizer call; anything it throws (a corrupt tokenizer.json) becomes a typed error naming the file. */
function guarded<T>(tm: TextModel, call: () => T): T {
  try {
    return call();
  } catch (e) {
    if (e instanceof PathlensError) throw e;
    throw new TextExplainError(
      `${tokenizerName(tm)}: the tokenizer failed on the text (${String((e as Error)?.message ?? e).replace(/\s+/g, " ")}): is the file corrupt?`,
      { cause: e },
    );
  }
}

/** Ids the tokenizer inserts around texts ([CLS], [SEP], <s>, …): special ids except [UNK] and [MASK]. */
export function insertedIds(tokenizer: TextTokenizer): Set<number> {
  const t = tokenizer as unknown as { all_special_ids?: number[] };
  const named = (names: string[]) =>
    names.map((s) => tokenizer.token_to_id(s)).filter((v): v is number => v !== undefined);
  const all = t.all_special_ids?.length
    ? t.all_special_ids
    : named(["[CLS]", "[SEP]", "[PAD]", "<s>", "</s>", "<pad>"]);
  const kept = new Set(named(["[UNK]", "<unk>", "[MASK]", "<mask>"]));
  return new Set(all.filter((id) => !kept.has(id)));
}

/** The id of the tokenizer's pad, unk or mask token. */
export function tokenId(tokenizer: TextTokenizer, kind: "pad" | "unk" | "mask"): number {
  const candidates = { pad: ["[PAD]", "<pad>"], unk: ["[UNK]", "<unk>"], mask: ["[MASK]", "<mask>"] }[kind];
  for (const c of candidates) {
    const id = tokenizer.token_to_id(c);
    if (id !== undefined) return id;
  }
  if (kind === "pad") return 0;
  throw new TextExplainError(`the tokenizer has no ${kind} token (${candidates.join(" / ")})`);
}

function tokenText(tokenizer: TextTokenizer, id: number): string {
  return tokenizer.id_to_token(id) ?? String(id);
}

type Callable<A, R> = ((a: A) => R) | undefined | null;

/**
 * Words from the tokenizer's normaliser, pre-tokeniser and model, one text at a time; undefined
 * when their pieces are not exactly the encoding's (added tokens inside the text, truncation
 * inside a word, tokenizers that work otherwise).
 */
function alignWords(
  tokenizer: TextTokenizer,
  tokens: string[],
  special: boolean[],
  fullLength: number,
  texts: (string | undefined)[],
): { words: TextWord[]; owner: number[] } | undefined {
  const t = tokenizer as unknown as {
    normalizer: Callable<string, string>;
    pre_tokenizer: Callable<string, string[]>;
    model: Callable<string[], string[]>;
  };
  if (!t.model) return undefined;
  const expected: { piece: string; word: number }[] = [];
  const words: TextWord[] = [];
  for (const [sequence, text] of texts.entries()) {
    if (text === undefined) continue;
    const normalised = t.normalizer ? t.normalizer(text) : text;
    const pre = t.pre_tokenizer ? t.pre_tokenizer(normalised) : [normalised];
    const offsets = locate(
      text,
      pre.map((w) => w.replace(/^[Ġ▁]/, "")),
    );
    pre.forEach((w, k) => {
      const pieces = t.model!([w]);
      if (pieces.length === 0) return;
      const o = offsets[k];
      words.push({
        word: o ? text.slice(o[0], o[1]) : w.replace(/^[Ġ▁]/, ""),
        tokens: [],
        sequence,
        ...(o ? { start: o[0], end: o[1] } : {}),
      });
      for (const piece of pieces) expected.push({ piece, word: words.length - 1 });
    });
  }
  const content = tokens.map((_, i) => i).filter((i) => !special[i]);
  const truncated = tokens.length < fullLength;
  if (truncated ? content.length > expected.length : content.length !== expected.length) return undefined;
  // with truncation, the first text loses its tail: match its head, then the rest in order
  const owner = tokens.map(() => -1);
  const firstLength = expected.filter((e) => words[e.word]!.sequence === 0).length;
  const dropped = expected.length - content.length;
  const kept = truncated
    ? [
        ...expected.slice(0, firstLength - Math.min(dropped, firstLength)),
        ...expected.slice(firstLength + Math.max(0, dropped - firstLength)),
      ]
    : expected;
  for (const [k, i] of content.entries()) {
    if (kept[k]!.piece !== tokens[i]) return undefined;
    owner[i] = kept[k]!.word;
  }
  owner.forEach((w, i) => {
    if (w >= 0) words[w]!.tokens.push(i);
  });
  const live = words.map((w) => w.tokens.length > 0);
  const renumber = live.map((_, k) => live.slice(0, k).filter(Boolean).length);
  return {
    words: words.filter((_, k) => live[k]),
    owner: owner.map((w) => (w < 0 ? -1 : renumber[w]!)),
  };
}

/** Folds a character for matching normalised words against the original text. */
function fold(c: string): string {
  return c.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();
}

/** Character offsets of each word in `text`, searched in order (undefined where not found). */
function locate(text: string, words: string[]): ([number, number] | undefined)[] {
  let folded = "";
  const origin: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const f = fold(text[i]!);
    for (let k = 0; k < f.length; k++) origin.push(i);
    folded += f;
  }
  origin.push(text.length);
  let cursor = 0;
  return words.map((w) => {
    const target = [...w].map(fold).join("");
    if (!target) return undefined;
    const at = folded.indexOf(target, cursor);
    if (at < 0) return undefined;
    cursor = at + target.length;
    return [origin[at]!, origin[cursor - 1]! + 1];
  });
}

/** Sums sub-word pieces ("##…", or pieces without a word-start marker) into words. */
export function mergePieces(tokens: string[], special: boolean[]): { words: TextWord[]; owner: number[] } {
  const words: TextWord[] = [];
  const owner = tokens.map(() => -1);
  const byteLevel = tokens.some((t) => t.startsWith("Ġ") || t.startsWith("▁"));
  let sequence = 0;
  let seenContent = false;
  tokens.forEach((tok, i) => {
    if (special[i]) {
      if (seenContent && i > 0 && !special[i - 1]) sequence++;
      return;
    }
    seenContent = true;
    const continues =
      words.length > 0 &&
      !special[i - 1] &&
      (tok.startsWith("##") || (byteLevel && !tok.startsWith("Ġ") && !tok.startsWith("▁") && i > 0));
    const text = tok.replace(/^##/, "").replace(/^[Ġ▁]/, "");
    if (continues) {
      const w = words[words.length - 1]!;
      w.word += text;
      w.tokens.push(i);
    } else words.push({ word: text, tokens: [i], sequence: Math.min(sequence, 1) });
    owner[i] = words.length - 1;
  });
  return { words, owner };
}
