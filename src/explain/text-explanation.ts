/**
 * The result types every text explainer returns: per-token and per-word attributions of one
 * explained label (a class, an entity at a token, a start or end logit), and the assembly of
 * those from the engine's per-token scores.
 */
import type { TokenScores } from "./text-attribution.js";
import type { EncodedText } from "./text-encode.js";

/** One token's attribution. */
export interface TokenAttribution {
  token: string;
  id: number;
  score: number;
  special: boolean;
  /** Index of the word it belongs to (−1 for tokens the tokenizer inserted). */
  word: number;
}

/** One word's attribution: the sum over its tokens. */
export interface WordAttribution {
  /** As written in the text. */
  word: string;
  score: number;
  tokens: number[];
  /** 0: the text, 1: the second text of a pair (a hypothesis, a context). */
  sequence: number;
}

/** Token-pair Integrated Hessians of one explained label. */
export interface TextInteractions {
  /** Γ over tokens, row-major tokens × tokens. */
  tokens: number[];
  /** Γ summed over each word's tokens, words × words. */
  words: number[];
  /** Σ Γ − (F(x) − F(x')). */
  delta?: number;
}

/** The attributions of one explained label. */
export interface LabelExplanation {
  /** The explained label's name (a class, an entity label, the answer token). */
  label: string;
  /** NER: index in `tokens` of the explained token; QA: "start" or "end". */
  position?: number | "start" | "end";
  tokens: TokenAttribution[];
  words: WordAttribution[];
  /** Σ attributions − (F(x) − F(x')), the completeness delta. */
  delta: number;
  outputAtInput: number;
  outputAtBaseline: number;
  /** The label's probability (softmax, or sigmoid for multi-label) at the input. */
  probability?: number;
  interactions?: TextInteractions;
}

/** Builds a {@link LabelExplanation} from the engine's token scores. */
export function labelExplanation(
  enc: EncodedText,
  s: TokenScores,
  label: string,
  extra: { position?: number | "start" | "end"; probability?: number } = {},
): LabelExplanation {
  const tokens = enc.tokens.map((token, i) => ({
    token,
    id: enc.ids[i]!,
    score: s.scores[i]!,
    special: enc.special[i]!,
    word: enc.owner[i]!,
  }));
  const words = enc.words.map((w) => ({
    word: w.word,
    score: w.tokens.reduce((a, i) => a + s.scores[i]!, 0),
    tokens: w.tokens,
    sequence: w.sequence,
  }));
  const out: LabelExplanation = {
    label,
    ...(extra.position !== undefined ? { position: extra.position } : {}),
    tokens,
    words,
    delta: s.delta,
    outputAtInput: s.outputAtInput,
    outputAtBaseline: s.outputAtBaseline,
    ...(extra.probability !== undefined ? { probability: extra.probability } : {}),
  };
  if (s.interactions) {
    const t = enc.ids.length;
    const w = enc.words.length;
    const byWord = new Array<number>(w * w).fill(0);
    for (let i = 0; i < t; i++)
      for (let j = 0; j < t; j++) {
        const a = enc.owner[i]!;
        const b = enc.owner[j]!;
        if (a >= 0 && b >= 0) byWord[a * w + b]! += s.interactions[i * t + j]!;
      }
    out.interactions = {
      tokens: Array.from(s.interactions),
      words: byWord,
      ...(s.interactionDelta !== undefined ? { delta: s.interactionDelta } : {}),
    };
  }
  return out;
}
