"""Trains the tiny BERT-like test models of pathlens' transformer tasks on generated data whose
right attributions are known, and writes each as a Hugging Face / Optimum model folder
(model.onnx, tokenizer.json, tokenizer_config.json, config.json with id2label) under
test/fixtures/tasks/<task>/:

- multi-label: sigmoid outputs sports / politics / weather, each triggered by known words;
- zero-shot: an NLI model (contradiction / neutral / entailment) on premise + "This example is {}."
  style hypotheses — entailment iff the premise holds a trigger word of the hypothesis' topic;
- ner: tags the capitalised word after "Mr" (PER) and after "in" (LOC); the same names occur in
  both places and elsewhere (tagged O), so the preceding word decides; names split into pieces;
- qa: the answer is the word after the marker the question asks for ("code" or "key").

Every model: word + position (buffered position ids, sliced as Hugging Face BERT does) +
token-type embeddings, LayerNorm, 2 encoder layers (hidden 32, 2 heads, exact GELU).
The NER model has no token_type_ids input (buffered zeros, as Hugging Face does when absent).

It also writes float64 torch references of layer Integrated Gradients on the QA model at the
word, position and token-type embeddings and at all three at once (Gauss-Legendre, 32 points;
baselines: word ids [CLS]/[SEP] kept and every other token [PAD], position ids 0, token-type
ids 0) to test/fixtures/tasks/refs/.

Run: /usr/bin/python3 tools/make_task_models.py   (Debian's python3-torch; a few minutes)
"""
import json
import math
import os
import random

import numpy as np
import torch
import torch.nn as nn

ROOT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "tasks")
HIDDEN, LAYERS, HEADS, FFN, MAX_POS = 32, 2, 2, 64, 64

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
PUNCT = [".", ",", "?", "!"]
FILLER = ("the a and was is it that of to in on at with for we they he she went saw met lived works "
          "visited from today yesterday very big small old new city market house report news said "
          "about what heard talked day my then near").split()
CAPS = ["The", "They", "He", "She", "We", "This", "Mr", "Monday", "Friday"]
# names: whole words and words WordPiece splits into pieces
NAMES = ["Jordan", "Paris", "Berlin", "Smith", "Taylor", "Morgan", "Lincoln", "Johnson", "Kensington", "Washington"]
NAME_PIECES = ["John", "##son", "Ken", "##sington", "Wash", "##ington"]
TOPICS = {
    "sports": ["football", "goal", "match", "tennis"],
    "politics": ["election", "vote", "minister", "parliament"],
    "weather": ["rain", "storm", "sunny", "snow", "thunderstorm"],
    "food": ["pizza", "bread", "soup", "cheese"],
}
TOPIC_PIECES = ["thunder", "##storm"]
TEMPLATE_WORDS = ["example", "text", "topic", "sports", "politics", "weather", "food"]
QA_WORDS = ["code", "key", "red", "blue", "green", "yellow", "violet", "ultraviolet", "turquoise", "sky"]
QA_PIECES = ["ultra", "##violet", "tur", "##quoise"]
WHOLE_ONLY_VIA_PIECES = {"Johnson", "Kensington", "Washington", "thunderstorm", "ultraviolet", "turquoise"}

vocab = []
for w in (SPECIAL + PUNCT + FILLER + CAPS + NAMES + NAME_PIECES + sum(TOPICS.values(), []) + TOPIC_PIECES
          + TEMPLATE_WORDS + QA_WORDS + QA_PIECES):
    if w not in vocab and w not in WHOLE_ONLY_VIA_PIECES:
        vocab.append(w)
ids = {w: i for i, w in enumerate(vocab)}


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


def words_of(text):
    for p in PUNCT:
        text = text.replace(p, f" {p} ")
    return text.split()


def pieces(text):
    return [p for w in words_of(text) for p in wordpiece(w)]


def encode(a, b=None):
    """[CLS] a [SEP] (b [SEP]) as ids and token-type ids, as the tokenizer.json below does."""
    ta = ["[CLS]"] + pieces(a) + ["[SEP]"]
    types = [0] * len(ta)
    if b is not None:
        tb = pieces(b) + ["[SEP]"]
        ta += tb
        types += [1] * len(tb)
    return [ids[t] for t in ta], types


class TinyBert(nn.Module):
    """BERT's layout at toy size; `override` replaces embedding outputs (for layer IG)."""

    def __init__(self, outputs, token_types=True):
        super().__init__()
        self.word_embeddings = nn.Embedding(len(vocab), HIDDEN)
        self.position_embeddings = nn.Embedding(MAX_POS, HIDDEN)
        self.token_type_embeddings = nn.Embedding(2, HIDDEN)
        self.register_buffer("position_ids", torch.arange(MAX_POS).unsqueeze(0), persistent=False)
        self.register_buffer("buffered_token_type_ids", torch.zeros(1, MAX_POS, dtype=torch.long), persistent=False)
        self.norm = nn.LayerNorm(HIDDEN)
        self.layers = nn.ModuleList(
            nn.ModuleDict({
                "q": nn.Linear(HIDDEN, HIDDEN), "k": nn.Linear(HIDDEN, HIDDEN), "v": nn.Linear(HIDDEN, HIDDEN),
                "o": nn.Linear(HIDDEN, HIDDEN), "norm1": nn.LayerNorm(HIDDEN),
                "ff1": nn.Linear(HIDDEN, FFN), "ff2": nn.Linear(FFN, HIDDEN), "norm2": nn.LayerNorm(HIDDEN),
            })
            for _ in range(LAYERS)
        )
        self.head = nn.Linear(HIDDEN, outputs)
        self.token_types = token_types

    def embeddings(self, input_ids, token_type_ids=None):
        t = input_ids.shape[1]
        if token_type_ids is None:
            token_type_ids = self.buffered_token_type_ids[:, :t].expand(input_ids.shape[0], t)
        return {
            "word": self.word_embeddings(input_ids),
            "position": self.position_embeddings(self.position_ids[:, :t]),
            "token-type": self.token_type_embeddings(token_type_ids),
        }

    def encode(self, emb, attention_mask):
        h = self.norm(emb["word"] + emb["position"] + emb["token-type"])
        b, t, _ = h.shape
        d = HIDDEN // HEADS
        bias = (1.0 - attention_mask[:, None, None, :].to(h.dtype)) * -10000.0
        for L in self.layers:
            split = lambda x: x.view(b, t, HEADS, d).transpose(1, 2)
            q, k, v = split(L["q"](h)), split(L["k"](h)), split(L["v"](h))
            a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d) + bias, dim=-1) @ v
            h = L["norm1"](h + L["o"](a.transpose(1, 2).reshape(b, t, HIDDEN)))
            h = L["norm2"](h + L["ff2"](nn.functional.gelu(L["ff1"](h))))
        return h

    def forward(self, input_ids, attention_mask, token_type_ids=None, override=None):
        emb = self.embeddings(input_ids, token_type_ids)
        if override:
            emb.update(override)
        return self.encode(emb, attention_mask)


class SequenceModel(TinyBert):
    def forward(self, input_ids, attention_mask, token_type_ids=None, override=None):
        return self.head(super().forward(input_ids, attention_mask, token_type_ids, override)[:, 0])


class TokenModel(TinyBert):
    def forward(self, input_ids, attention_mask, token_type_ids=None, override=None):
        return self.head(super().forward(input_ids, attention_mask, token_type_ids, override))


class QaModel(TinyBert):
    def forward(self, input_ids, attention_mask, token_type_ids=None, override=None):
        logits = self.head(super().forward(input_ids, attention_mask, token_type_ids, override))
        return logits[..., 0], logits[..., 1]


# ---- generated data -------------------------------------------------------------------------

def filler(n):
    return " ".join(random.choice(["the", "a", "very", "big", "small", "old", "new", "it", "that", "we", "then", "today"]) for _ in range(n))


def multi_label_example():
    present = [t for t in ["sports", "politics", "weather"] if random.random() < 0.4]
    words = filler(random.randint(2, 6)).split() + [random.choice(TOPICS[t]) for t in present]
    random.shuffle(words)
    if random.random() < 0.3:
        words.append(random.choice(TOPICS["food"]))  # a trigger of no label
    return " ".join(words) + " .", [float(t in present) for t in ["sports", "politics", "weather"]]


TEMPLATES = ["This example is {}.", "This text is about {}.", "The topic is {}."]
NLI_LABELS = ["contradiction", "neutral", "entailment"]


def nli_example():
    kinds = [t for t in TOPICS if random.random() < 0.35]
    words = filler(random.randint(2, 6)).split() + [random.choice(TOPICS[t]) for t in kinds]
    random.shuffle(words)
    premise = " ".join(words) + " ."
    label = random.choice(list(TOPICS))
    y = 2 if label in kinds else (0 if kinds else 1)
    return premise, random.choice(TEMPLATES).format(label), y


NER_LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def ner_example():
    n = lambda: random.choice(NAMES)
    templates = [
        f"Mr {n()} went to the market in {n()} .",
        f"{random.choice(['They', 'He', 'She', 'We'])} met Mr {n()} on {random.choice(['Monday', 'Friday'])} .",
        f"Mr {n()} lived in {n()} with Mr {n()} .",
        f"They visited the old house in {n()} on {random.choice(['Monday', 'Friday'])} .",
        f"in the city , Mr {n()} said that it was big .",
        f"{n()} works in {n()} .",
        f"{n()} saw {n()} near the market .",
        f"The news about {n()} said it was in {n()} .",
    ]
    words = random.choice(templates).split()
    toks, labels = [], []
    for i, w in enumerate(words):
        kind = None
        if i > 0 and w[0].isupper() and words[i - 1] == "Mr":
            kind = "PER"
        elif i > 0 and w[0].isupper() and words[i - 1] == "in":
            kind = "LOC"
        for k, p in enumerate(wordpiece(w)):
            toks.append(p)
            labels.append(0 if kind is None else NER_LABELS.index(("B-" if k == 0 else "I-") + kind))
    return toks, labels


COLOURS = ["red", "blue", "green", "yellow", "violet", "ultraviolet", "turquoise"]


def qa_example():
    a, b, c = random.sample(COLOURS, 3)
    # both markers come after the same words, so only the marker tells the answers apart
    lead = lambda: random.choice(["the", "then", "my"])
    clauses = [f"{lead()} code {a} was said", f"{lead()} key {b}", f"the sky was {c}", f"we heard it {filler(1)}"]
    random.shuffle(clauses)
    context = " , ".join(clauses) + " ."
    marker = random.choice(["code", "key"])
    question = f"what is the {marker} ?"
    answer = a if marker == "code" else b
    return question, context, answer


def qa_span(ids_, answer):
    """Token span of the word `answer` after its marker (first and last piece)."""
    toks = [vocab[i] for i in ids_]
    ans = wordpiece(answer)
    sep = toks.index("[SEP]")
    for s in range(sep + 1, len(toks) - len(ans) + 1):
        if toks[s:s + len(ans)] == ans and toks[s - 1] in ("code", "key"):
            return s, s + len(ans) - 1
    raise AssertionError("no answer span")


def pad(rows):
    t = max(len(r) for r in rows)
    out = torch.zeros(len(rows), t, dtype=torch.long)
    mask = torch.zeros(len(rows), t, dtype=torch.long)
    for i, r in enumerate(rows):
        out[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r)] = 1
    return out, mask


def batch(task, n):
    if task == "multi-label":
        xs, ys = zip(*(multi_label_example() for _ in range(n)))
        enc = [encode(x) for x in xs]
        ids_, mask = pad([e[0] for e in enc])
        return (ids_, mask, pad([e[1] for e in enc])[0]), torch.tensor(ys)
    if task == "zero-shot":
        ex = [nli_example() for _ in range(n)]
        enc = [encode(p, h) for p, h, _ in ex]
        ids_, mask = pad([e[0] for e in enc])
        return (ids_, mask, pad([e[1] for e in enc])[0]), torch.tensor([y for *_, y in ex])
    if task == "ner":
        ex = [ner_example() for _ in range(n)]
        rows = [[ids["[CLS]"]] + [ids[t] for t in toks] + [ids["[SEP]"]] for toks, _ in ex]
        ids_, mask = pad(rows)
        y = torch.full(ids_.shape, -100, dtype=torch.long)
        for i, (_, labels) in enumerate(ex):
            y[i, 1 : 1 + len(labels)] = torch.tensor(labels)
        return (ids_, mask), y
    ex = [qa_example() for _ in range(n)]
    enc = [encode(q, c) for q, c, _ in ex]
    ids_, mask = pad([e[0] for e in enc])
    spans = torch.tensor([qa_span(e[0], a) for e, (_, _, a) in zip(enc, ex)])
    return (ids_, mask, pad([e[1] for e in enc])[0]), spans


def loss_and_accuracy(task, model, x, y):
    out = model(*x)
    if task == "multi-label":
        return nn.functional.binary_cross_entropy_with_logits(out, y), ((out > 0).float() == y).all(1).float().mean()
    if task == "zero-shot":
        return nn.functional.cross_entropy(out, y), (out.argmax(1) == y).float().mean()
    if task == "ner":
        keep = y != -100
        return nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1), ignore_index=-100), \
            (out.argmax(-1)[keep] == y[keep]).float().mean()
    start, end = out
    loss = nn.functional.cross_entropy(start, y[:, 0]) + nn.functional.cross_entropy(end, y[:, 1])
    return loss, ((start.argmax(1) == y[:, 0]) & (end.argmax(1) == y[:, 1])).float().mean()


LABELS = {
    "multi-label": ["sports", "politics", "weather"],
    "zero-shot": NLI_LABELS,
    "ner": NER_LABELS,
}


def make_model(task):
    if task == "multi-label":
        return SequenceModel(3)
    if task == "zero-shot":
        return SequenceModel(3)
    if task == "ner":
        return TokenModel(len(NER_LABELS), token_types=False)
    return QaModel(2)


def train(task, steps):
    random.seed(0)
    torch.manual_seed(0)
    model = make_model(task)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for step in range(steps):
        x, y = batch(task, 64)
        loss, _ = loss_and_accuracy(task, model, x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        x, y = batch(task, 1000)
        _, acc = loss_and_accuracy(task, model, x, y)
    return model, float(acc)


class Exported(nn.Module):
    """The forward Optimum exports: ids in, logits out (no override argument)."""

    def __init__(self, model, token_types):
        super().__init__()
        self.model, self.token_types = model, token_types

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        return self.model(input_ids, attention_mask, token_type_ids if self.token_types else None)


def export(task, model, acc):
    out = os.path.join(ROOT, task)
    os.makedirs(out, exist_ok=True)
    token_types = task != "ner"
    x, _ = batch(task, 2)
    names = ["input_ids", "attention_mask"] + (["token_type_ids"] if token_types else [])
    outputs = ["start_logits", "end_logits"] if task == "qa" else ["logits"]
    axes = {n: {0: "batch_size", 1: "sequence_length"} for n in names}
    for o in outputs:
        axes[o] = {0: "batch_size", 1: "sequence_length"} if task in ("qa", "ner") else {0: "batch_size"}
    feeds = tuple(x[: len(names)]) if token_types else (x[0], x[1])
    torch.onnx.export(Exported(model, token_types), feeds, os.path.join(out, "model.onnx"), opset_version=14,
                      input_names=names, output_names=outputs, dynamic_axes=axes)
    write_tokenizer(out)
    config = {
        "model_type": "bert",
        "architectures": [{"multi-label": "BertForSequenceClassification", "zero-shot": "BertForSequenceClassification",
                           "ner": "BertForTokenClassification", "qa": "BertForQuestionAnswering"}[task]],
        "hidden_size": HIDDEN, "num_hidden_layers": LAYERS, "num_attention_heads": HEADS, "intermediate_size": FFN,
        "max_position_embeddings": MAX_POS, "type_vocab_size": 2, "vocab_size": len(vocab),
        "accuracy_on_1000_generated_examples": acc,
    }
    if task in LABELS:
        config["id2label"] = {str(i): l for i, l in enumerate(LABELS[task])}
        config["label2id"] = {l: i for i, l in enumerate(LABELS[task])}
    if task == "multi-label":
        config["problem_type"] = "multi_label_classification"
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    print(task, "accuracy", acc, "bytes", os.path.getsize(os.path.join(out, "model.onnx")))


def write_tokenizer(out):
    tokenizer = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": ids[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True} for t in SPECIAL],
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                       "strip_accents": None, "lowercase": False},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {t: {"id": t, "ids": [ids[t]], "tokens": [t]} for t in ["[CLS]", "[SEP]"]},
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": ids},
    }
    with open(os.path.join(out, "tokenizer.json"), "w") as f:
        json.dump(tokenizer, f, separators=(",", ":"))
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump({"model_max_length": MAX_POS, "do_lower_case": False, "cls_token": "[CLS]", "sep_token": "[SEP]",
                   "pad_token": "[PAD]", "unk_token": "[UNK]", "mask_token": "[MASK]",
                   "tokenizer_class": "BertTokenizer"}, f, indent=1)


# ---- float64 layer-IG references --------------------------------------------------------------

def layer_ig_reference(model, question, context, steps=32):
    """Layer IG of the start logit at the predicted start, at each embedding kind and all three."""
    model = model.double()
    ids_, types = encode(question, context)
    x = torch.tensor([ids_])
    tt = torch.tensor([types])
    mask = torch.ones_like(x)
    with torch.no_grad():
        start, _ = model(x, mask, tt)
    position = int(start[0].argmax())
    emb = {k: v.detach() for k, v in model.embeddings(x, tt).items()}
    base_ids = torch.tensor([[i if vocab[i] in ("[CLS]", "[SEP]") else ids["[PAD]"] for i in ids_]])
    base = {
        "word": model.word_embeddings(base_ids).detach(),
        "position": model.position_embeddings.weight[0].detach().expand_as(emb["position"]).clone(),
        "token-type": model.token_type_embeddings.weight[0].detach().expand_as(emb["token-type"]).clone(),
    }
    nodes, weights = np.polynomial.legendre.leggauss(steps)
    alphas, weights = (nodes + 1) / 2, weights / 2
    refs = {}
    for kinds in (["word"], ["position"], ["token-type"], ["word", "position", "token-type"]):
        total = {k: torch.zeros_like(emb[k]) for k in kinds}
        for a, w in zip(alphas, weights):
            point = {k: (base[k] + float(a) * (emb[k] - base[k])).requires_grad_(True) for k in kinds}
            s, _ = model(x, mask, tt, override=point)
            grads = torch.autograd.grad(s[0, position], [point[k] for k in kinds])
            for k, g in zip(kinds, grads):
                total[k] += float(w) * g
        attr = sum(((emb[k] - base[k]) * total[k])[0] for k in kinds)  # [T, H], summed over kinds
        with torch.no_grad():
            f_x = float(model(x, mask, tt)[0][0, position])
            f_b = float(model(x, mask, tt, override={k: base[k] for k in kinds})[0][0, position])
        name = "all" if len(kinds) == 3 else kinds[0]
        refs[name] = {"attributions": attr.numpy(), "f_x": f_x, "f_baseline": f_b,
                      "delta": float(attr.sum()) - (f_x - f_b)}
    return ids_, types, position, refs


def main():
    torch.set_num_threads(1)
    scale = float(os.environ.get("PATHLENS_STEPS_SCALE", "1"))
    steps = {k: max(1, int(v * scale)) for k, v in {"multi-label": 1200, "zero-shot": 2500, "ner": 1500, "qa": 2000}.items()}
    models = {}
    tasks = os.environ.get("PATHLENS_TASKS", "multi-label,zero-shot,ner,qa").split(",")
    for task in tasks:
        model, acc = train(task, steps[task])
        export(task, model, acc)
        models[task] = model
    if "qa" not in models:
        return
    out = os.path.join(ROOT, "refs")
    os.makedirs(out, exist_ok=True)
    question, context = "what is the key ?", "the code red was said , then key ultraviolet ."
    ids_, types, position, refs = layer_ig_reference(models["qa"], question, context)
    manifest = {"model": "qa", "question": question, "context": context, "input_ids": ids_,
                "token_type_ids": types, "target": {"output": "start_logits", "position": position},
                "steps": 32, "method": "gausslegendre", "cases": {}}
    for name, r in refs.items():
        np.save(os.path.join(out, f"qa_lig_{name}.npy"), r["attributions"])
        manifest["cases"][name] = {"file": f"tasks/refs/qa_lig_{name}.npy", "f_x": r["f_x"],
                                   "f_baseline": r["f_baseline"], "delta": r["delta"]}
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print("references", {k: (v["f_x"], v["f_baseline"], v["delta"]) for k, v in refs.items()})


if __name__ == "__main__":
    main()
