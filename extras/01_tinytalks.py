"""TinyTalks: YOUR transformer learns to answer short questions.

The TinyTalks conversations (extras/data/tinytalks) follow patterns: colours of things,
opposites, animal sounds, capitals, counting, greetings that repeat your name, plurals. A small
GPT built from YOUR attention, embeddings and layers reads them one character at a time.

Then it answers questions it has NEVER seen: a known fact asked in a phrasing it saw for other
facts ("what sound does a lion make?"), or a greeting with a name that never occurred in
training ("hi, i am zoe." -> "hello zoe, nice to meet you."). Answers are decoded greedily,
character by character, and must match exactly. Facts are the easy part; copying a name the
model never saw needs an "induction head" (one head finds the earlier name, the next copies
it), which a 2-layer model trained for a minute only sometimes forms.

Measured (numpy, from your model's logits):
- `exact_answer_rate`: share of held-out questions answered exactly. The held-out answers are not
  in extras/data: this script writes its answers (`tinytalks_test_answers.npy`) and the grader
  compares them with its answer key (criteria/references/, never shown to the script), ignoring
  case and extra whitespace. Run directly from a clone, the script prints its own estimate;

- `train_exact_answer_rate`: the same for 84 questions it was trained on (recall);
- `heldout_gain_over_bigram`: how many nats per character the model beats a bigram model
  counted from the training conversations, on held-out conversations.

Run it yourself: `python extras/01_tinytalks.py` (add `--quick` for a short run).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from _harness import metrics
from _harness.common import parse_args, seed_everything, to_numpy

DATA_DIR = Path(__file__).resolve().parent / "data" / "tinytalks"
# The host's answer key: reachable from a clone of the repo, never inside the grading sandbox.
ANSWER_KEY = Path(__file__).resolve().parents[1] / "criteria" / "references" / "tinytalks_test_answers.json"
MAX_ANSWER_CHARS = 32
CONTEXT = "Q: how are you?\nA: i am fine, thank you.\n"
RECALL_SAMPLE = 84  # training questions asked back: did the model learn what it was shown?

CONFIG = {
    "full": dict(embed_dim=64, num_layers=2, num_heads=4, seq_len=64, batch_size=32, steps=1200, lr=3e-3),
    "quick": dict(embed_dim=48, num_layers=2, num_heads=4, seq_len=64, batch_size=16, steps=400, lr=5e-3),
}


def load_pairs(split: str) -> list[dict]:
    path = DATA_DIR / f"{split}.jsonl"
    if not path.is_file():
        raise SystemExit(f"{path} is missing: extras/data ships with the extras; restore it "
                         "(e.g. `git checkout -- extras/data`)")
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def as_text(pair: dict) -> str:
    return f"Q: {pair['question']}\nA: {pair['answer']}\n"


def random_windows(ids: np.ndarray, batch_size: int, seq_len: int, rng: np.random.Generator):
    """Inputs (B, T) and next-character targets (B, T) from random places in `ids`."""
    starts = rng.integers(0, len(ids) - seq_len - 1, size=batch_size)
    x = np.stack([ids[s:s + seq_len] for s in starts])
    y = np.stack([ids[s + 1:s + seq_len + 1] for s in starts])
    return x, y


def tiled_windows(ids: np.ndarray, seq_len: int):
    """Non-overlapping windows covering `ids`: every character is scored once."""
    n = (len(ids) - 1) // seq_len
    return ids[:n * seq_len].reshape(n, seq_len), ids[1:n * seq_len + 1].reshape(n, seq_len)


def mean_nll(logits: np.ndarray, targets: np.ndarray) -> float:
    """Cross-entropy in nats, in float64 numpy from raw logits."""
    z = logits.reshape(-1, logits.shape[-1]).astype(np.float64)
    z = z - z.max(axis=1, keepdims=True)
    log_probs = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(z)), targets.reshape(-1)].mean())


def bigram_nll(train_ids: np.ndarray, x: np.ndarray, y: np.ndarray, vocab_size: int) -> float:
    """Loss of a bigram model counted from the training text (add-one smoothing), scored on (x -> y)."""
    counts = np.ones((vocab_size, vocab_size))
    np.add.at(counts, (train_ids[:-1], train_ids[1:]), 1.0)
    probs = counts / counts.sum(axis=1, keepdims=True)
    return float(-np.log(probs[x.reshape(-1), y.reshape(-1)]).mean())


def greedy_answers(logits_of, prompts: list[np.ndarray], stop_id: int, seq_len: int) -> list[list[int]]:
    """Decode every prompt greedily, all in one batch, until it emits `stop_id`.

    Rows are right-padded; a causal model never looks at the padding after a row's last token.
    """
    seqs = [list(p) for p in prompts]
    done = [False] * len(seqs)
    for _ in range(MAX_ANSWER_CHARS):
        active = [i for i, d in enumerate(done) if not d]
        if not active:
            break
        contexts = [seqs[i][-seq_len:] for i in active]
        batch = np.zeros((len(active), max(len(c) for c in contexts)), dtype=np.int64)
        for row, context in enumerate(contexts):
            batch[row, :len(context)] = context
        logits = logits_of(batch)
        for row, i in enumerate(active):
            token = int(np.argmax(logits[row, len(contexts[row]) - 1]))
            seqs[i].append(token)
            done[i] = token == stop_id
    return [s[len(p):] for s, p in zip(seqs, prompts, strict=True)]


def checked_logits(logits, batch: np.ndarray, vocab_size: int) -> np.ndarray:
    """Your model's logits as an array; a clear stop if they are not shaped (batch, seq, vocab)."""
    out = to_numpy(logits)
    if out.shape != (*batch.shape, vocab_size):
        raise SystemExit(f"GPT returned logits of shape {out.shape} for token ids of shape {batch.shape}; "
                         f"expected (batch, seq, vocab) = {(*batch.shape, vocab_size)}")
    return out


def import_gpt():
    """GPT from tinytorch.core.transformers, or from the older spelling tinytorch.core.transformer."""
    name = "tinytorch.core.transformers"
    if importlib.util.find_spec(name) is None:
        name = "tinytorch.core.transformer"
    return importlib.import_module(name).GPT


def answer(logits_of, pairs: list[dict], stoi: dict, chars: list[str], seq_len: int) -> list[str]:
    """Greedy answers to each pair's question, asked after one known exchange (mid-conversation)."""
    texts = [f"{CONTEXT}Q: {p['question']}\nA: " for p in pairs]
    prompts = [np.array([stoi[c] for c in text], dtype=np.int64) for text in texts]
    decoded = greedy_answers(logits_of, prompts, stoi["\n"], seq_len)
    return ["".join(chars[i] for i in ids).split("\n")[0] for ids in decoded]


def print_own_estimate(test: list[dict], answers: list[str]) -> None:
    """With the answer key at hand (a clone of the repo), print the exact-answer rate by category.

    Only a printout: under the harness the key is not there and the host scores the artifact."""
    if not ANSWER_KEY.is_file():
        print("Exact answers: scored by the grader (its answer key is not available here).")
        return
    expected = json.loads(ANSWER_KEY.read_text(encoding="utf-8"))
    if len(expected) != len(answers):
        print(f"Exact answers: {ANSWER_KEY} does not match the test split; not estimated.")
        return
    same = [" ".join(a.split()).lower() == " ".join(e.split()).lower()
            for a, e in zip(answers, expected, strict=True)]
    by_category = defaultdict(list)
    for ok, p in zip(same, test, strict=True):
        by_category[p["category"]].append(ok)
    for category, oks in sorted(by_category.items()):
        print(f"  {category:<10} {sum(oks)}/{len(oks)} exact")
    print(f"Exact answers (own estimate; the grader computes its own): {sum(same)}/{len(same)} "
          f"= {np.mean(same):.1%}")


def main() -> int:
    args = parse_args(__doc__.splitlines()[0])
    seed_everything(args.seed)
    cfg = CONFIG["quick" if args.quick else "full"]

    from tinytorch.core.autograd import no_grad
    from tinytorch.core.losses import CrossEntropyLoss
    from tinytorch.core.optimizers import Adam
    from tinytorch.core.tensor import Tensor
    GPT = import_gpt()

    train, val, test = load_pairs("train"), load_pairs("val"), load_pairs("test")
    train_text = "".join(as_text(p) for p in train)
    val_text = "".join(as_text(p) for p in val)
    chars = sorted(set(train_text + val_text + "".join(p["question"] for p in test)))
    stoi = {c: i for i, c in enumerate(chars)}
    vocab_size = len(chars)
    train_ids = np.array([stoi[c] for c in train_text], dtype=np.int64)
    val_ids = np.array([stoi[c] for c in val_text], dtype=np.int64)
    b, t = cfg["batch_size"], cfg["seq_len"]
    print(f"TinyTalks: {len(train)} training conversations, {len(test)} held-out questions, "
          f"vocabulary {vocab_size}.")

    model = GPT(vocab_size=vocab_size, embed_dim=cfg["embed_dim"], num_layers=cfg["num_layers"],
                num_heads=cfg["num_heads"], max_seq_len=t)
    optimizer = Adam(model.parameters(), lr=cfg["lr"])
    loss_fn = CrossEntropyLoss()

    def logits_of(x: np.ndarray) -> np.ndarray:
        with no_grad():
            return checked_logits(model(Tensor(x)), x, vocab_size)

    rng = np.random.default_rng(args.seed)
    started, losses = time.perf_counter(), []
    print(f"Training for {cfg['steps']} steps...")
    for step in range(cfg["steps"]):
        x, y = random_windows(train_ids, b, t, rng)
        loss = loss_fn(model(Tensor(x)).reshape(b * t, vocab_size), Tensor(y.reshape(-1)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(to_numpy(loss)))
        if step % max(1, cfg["steps"] // 8) == 0:
            print(f"  step {step:4d}  loss {losses[-1]:.3f}  ({time.perf_counter() - started:.0f} s)")
    train_seconds = time.perf_counter() - started

    val_x, val_y = tiled_windows(val_ids, t)
    heldout = mean_nll(logits_of(val_x), val_y)
    bigram = bigram_nll(train_ids, val_x, val_y, vocab_size)
    print(f"Held-out loss {heldout:.3f} nats/char vs counted bigram {bigram:.3f}.")

    shown = train[:RECALL_SAMPLE]
    recalls = answer(logits_of, shown, stoi, chars, t)
    recalled = [got == p["answer"] for got, p in zip(recalls, shown, strict=True)]
    print(f"Training questions answered exactly: {sum(recalled)}/{len(recalled)}")
    answers = answer(logits_of, test, stoi, chars, t)
    print("Held-out questions (the grader scores these answers):")
    for p, got in list(zip(test, answers, strict=True))[:8]:
        print(f"  Q: {p['question']:<36} A: {got!r}")
    print_own_estimate(test, answers)

    metrics.artifact("tinytalks_test_answers.npy", np.array(answers, dtype=str))
    metrics.report("train_exact_answer_rate", float(np.mean(recalled)))
    metrics.report("heldout_loss", heldout)
    metrics.report("bigram_heldout_loss", bigram)
    metrics.report("heldout_gain_over_bigram", bigram - heldout)
    metrics.report("train_seconds", train_seconds)
    metrics.series("train_loss", losses)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
