"""Trains the bundled text example: a tiny BERT-like sentiment classifier (word + position
embeddings, LayerNorm, one self-attention block, [CLS] pooling) on templated sentences, and
writes examples/text-sentiment/{model.onnx, tokenizer.json, config.json} — a folder laid out
as Hugging Face / Optimum exports (WordPiece tokenizer.json, config.json with id2label).

Run: /usr/bin/python3 tools/make_text_example.py   (Debian's python3-torch; ~1 minute)
"""
import json
import math
import os
import random

import torch
import torch.nn as nn

OUT = os.path.join(os.path.dirname(__file__), "..", "examples", "text-sentiment")
random.seed(0)
torch.manual_seed(0)

POS = ["good", "great", "wonderful", "excellent", "fun", "lovely", "brilliant", "enjoyable", "charming", "superb"]
NEG = ["bad", "awful", "boring", "terrible", "dull", "horrible", "poor", "unwatchable", "dreadful", "weak"]
NOUNS = ["movie", "film", "story", "acting", "plot", "music", "ending", "cast", "script", "show"]
FILLER = ["the", "a", "this", "was", "is", "really", "very", "quite", "and", "but", "not", "i", "it", "so", "too", "at", "all", "found", "thought"]
# WordPiece pieces so that some words split into sub-words (merged back into words by pathlens)
PIECES = ["un", "##watch", "##able", "dread", "##ful", "enjoy", "##able", "wonder", "##ful"]
SPECIAL = ["[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]"]
PUNCT = [".", ",", "!", "?"]
vocab = []
for w in SPECIAL + PUNCT + FILLER + POS + NEG + NOUNS + PIECES:
    if w not in vocab and w not in ("unwatchable", "dreadful", "enjoyable", "wonderful"):
        vocab.append(w)
ids = {w: i for i, w in enumerate(vocab)}
MAX_LEN = 32


def wordpiece(word):
    if word in ids:
        return [word]
    out, start = [], 0
    while start < len(word):
        end, cur = len(word), None
        while start < end:
            sub = word[start:end] if start == 0 else "##" + word[start:end]
            if sub in ids:
                cur = sub
                break
            end -= 1
        if cur is None:
            return ["[UNK]"]
        out.append(cur)
        start = end
    return out


def encode(text):
    toks = ["[CLS]"]
    for w in text.lower().replace(".", " .").replace(",", " ,").replace("!", " !").split():
        toks += wordpiece(w)
    toks = toks[: MAX_LEN - 1] + ["[SEP]"]
    return [ids[t] for t in toks]


def sentence():
    label = random.random() < 0.5
    adj = random.choice(POS if label else NEG)
    noun = random.choice(NOUNS)
    negate = random.random() < 0.15
    templates = [
        f"the {noun} was {'not ' if negate else ''}{adj} .",
        f"i thought this {noun} was really {adj} .",
        f"a {'very ' if random.random() < 0.5 else ''}{adj} {noun} .",
        f"it is {adj} and {random.choice(POS if label else NEG)} , the {noun} too .",
    ]
    t = random.choice(templates)
    y = int(label) ^ int(negate and "not" in t)
    return t, y


class TinyBert(nn.Module):
    def __init__(self, vocab_size, hidden=32, heads=2):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab_size, hidden)
        self.position_embeddings = nn.Embedding(MAX_LEN, hidden)
        self.norm = nn.LayerNorm(hidden)
        self.q = nn.Linear(hidden, hidden)
        self.k = nn.Linear(hidden, hidden)
        self.v = nn.Linear(hidden, hidden)
        self.o = nn.Linear(hidden, hidden)
        self.norm2 = nn.LayerNorm(hidden)
        self.ff1 = nn.Linear(hidden, 2 * hidden)
        self.ff2 = nn.Linear(2 * hidden, hidden)
        self.norm3 = nn.LayerNorm(hidden)
        self.classifier = nn.Linear(hidden, 2)
        self.heads = heads

    def forward(self, input_ids, attention_mask):
        b, t = input_ids.shape
        pos = torch.arange(t).unsqueeze(0)
        h = self.norm(self.word_embeddings(input_ids) + self.position_embeddings(pos))
        d = h.shape[-1] // self.heads
        def split(x):
            return x.view(b, t, self.heads, d).transpose(1, 2)
        q, k, v = split(self.q(h)), split(self.k(h)), split(self.v(h))
        scores = q @ k.transpose(-1, -2) / math.sqrt(d)
        scores = scores + (1.0 - attention_mask[:, None, None, :].float()) * -10000.0
        a = torch.softmax(scores, dim=-1) @ v
        h = self.norm2(h + self.o(a.transpose(1, 2).reshape(b, t, -1)))
        h = self.norm3(h + self.ff2(torch.nn.functional.gelu(self.ff1(h))))
        return self.classifier(h[:, 0])


def batch(n):
    xs, ys = zip(*(sentence() for _ in range(n)))
    enc = [encode(x) for x in xs]
    t = max(len(e) for e in enc)
    ids_ = torch.zeros(n, t, dtype=torch.long)
    mask = torch.zeros(n, t, dtype=torch.long)
    for i, e in enumerate(enc):
        ids_[i, : len(e)] = torch.tensor(e)
        mask[i, : len(e)] = 1
    return ids_, mask, torch.tensor(ys)


def main():
    os.makedirs(OUT, exist_ok=True)
    model = TinyBert(len(vocab))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for step in range(600):
        ids_, mask, y = batch(64)
        loss = nn.functional.cross_entropy(model(ids_, mask), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    ids_, mask, y = batch(500)
    acc = (model(ids_, mask).argmax(1) == y).float().mean().item()
    print("accuracy", acc)
    torch.onnx.export(model, (ids_[:2], mask[:2]), os.path.join(OUT, "model.onnx"), opset_version=14,
                      input_names=["input_ids", "attention_mask"], output_names=["logits"],
                      dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"}, "logits": {0: "batch"}})
    tokenizer = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": ids[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}
            for t in SPECIAL
        ],
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True, "strip_accents": None, "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}, {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {t: {"id": t, "ids": [ids[t]], "tokens": [t]} for t in ["[CLS]", "[SEP]"]},
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100, "vocab": ids},
    }
    with open(os.path.join(OUT, "tokenizer.json"), "w") as f:
        json.dump(tokenizer, f, indent=1)
    with open(os.path.join(OUT, "tokenizer_config.json"), "w") as f:
        json.dump({"model_max_length": MAX_LEN, "do_lower_case": True, "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "unk_token": "[UNK]", "mask_token": "[MASK]", "tokenizer_class": "BertTokenizer"}, f, indent=1)
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump({"model_type": "bert", "architectures": ["TinyBertForSequenceClassification"], "id2label": {"0": "NEGATIVE", "1": "POSITIVE"}, "label2id": {"NEGATIVE": 0, "POSITIVE": 1}, "max_position_embeddings": MAX_LEN, "vocab_size": len(vocab), "accuracy_on_500_generated_sentences": acc}, f, indent=1)
    # reference: encodings of a few sentences by this script's own WordPiece, to test the JS tokenizer
    with open(os.path.join(OUT, "encodings.json"), "w") as f:
        json.dump({s: encode(s) for s in ["The movie was unwatchable.", "a wonderful film, really enjoyable!", "i thought this plot was dull ."]}, f, indent=1)


if __name__ == "__main__":
    main()
