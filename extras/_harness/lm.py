"""Numpy helpers the language-model extras share (stdlib + numpy only).

Every grade-bearing number of those extras is computed here from raw arrays (token ids and the
model's logits), never taken from the student's package. Nothing here imports tinytorch at import
time: ``import_gpt`` imports the student's GPT only when an extra calls it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .common import to_numpy
from .course import course_name, no_grad


def cross_entropy(z: np.ndarray, ids: np.ndarray) -> float:
    """Mean cross-entropy of logits ``z`` (N, V) at class ids (N,), in float64 (feedback only)."""
    shifted = z - z.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(ids)), ids].mean())


def import_gpt():
    """The student's GPT, from the course's transformer module (wherever the package keeps it)."""
    return course_name("transformer", "GPT")


def shipped_file(path: Path) -> Path:
    """``path`` if it exists; else a clear stop: extras/data ships with the extras."""
    if not Path(path).is_file():
        raise SystemExit(f"{path} is missing: extras/data ships with the extras; restore it "
                         "(e.g. `git checkout -- extras/data`)")
    return Path(path)


def read_jsonl(path: Path) -> list[dict]:
    """One JSON object per line of a shipped data file."""
    with open(shipped_file(path), encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


TINYTALKS_DIR = Path(__file__).resolve().parents[1] / "data" / "tinytalks"


def qa_text(pair: dict) -> str:
    """One TinyTalks exchange as the models read it: 'Q: ...\\nA: ...\\n'."""
    return f"Q: {pair['question']}\nA: {pair['answer']}\n"


def tinytalks_text(split: str) -> str:
    """One TinyTalks split (train or val: the test answers are not shipped) as one text stream."""
    return "".join(qa_text(p) for p in read_jsonl(TINYTALKS_DIR / f"{split}.jsonl"))


class CharVocab:
    """Character vocabulary of a corpus: sorted characters, ids, encode and decode."""

    def __init__(self, *texts: str):
        self.chars = sorted(set("".join(texts)))
        self.stoi = {c: i for i, c in enumerate(self.chars)}
        self.size = len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """Token ids (int64) of `text`; every character must be in the vocabulary."""
        return np.array([self.stoi[c] for c in text], dtype=np.int64)

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids)


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
    """Cross-entropy in nats, computed in float64 numpy from raw (..., V) logits."""
    return cross_entropy(logits.reshape(-1, logits.shape[-1]).astype(np.float64), targets.reshape(-1))


def bigram_counts(train_ids: np.ndarray, vocab_size: int, smoothing: float = 0.0) -> np.ndarray:
    """counts[a, b]: how often character b follows a in the training ids (plus `smoothing`)."""
    counts = np.full((vocab_size, vocab_size), float(smoothing))
    np.add.at(counts, (train_ids[:-1], train_ids[1:]), 1.0)
    return counts


def bigram_nll(train_ids: np.ndarray, x: np.ndarray, y: np.ndarray, vocab_size: int) -> float:
    """Loss of a bigram model counted from the training text (add-one smoothing), scored on (x -> y)."""
    counts = bigram_counts(train_ids, vocab_size, smoothing=1.0)
    probs = counts / counts.sum(axis=1, keepdims=True)
    return float(-np.log(probs[x.reshape(-1), y.reshape(-1)]).mean())


def train_char_gpt(cfg: dict, vocab_size: int, train_ids: np.ndarray, rng: np.random.Generator):
    """A GPT from YOUR package, trained with YOUR Adam and CrossEntropyLoss to predict the next
    character of random training windows.

    ``cfg``: embed_dim, num_layers, num_heads, seq_len (also the model's max_seq_len), batch_size,
    steps, lr. ``rng`` draws the training windows (the caller may keep using it afterwards).
    One step: logits (B, T, V) -> your loss on (B*T, V) against the next ids ->
    backward -> your optimizer. Returns ``(model, logits_of, losses, train_seconds)``, where
    ``logits_of(ids)`` runs the model without gradients and returns checked (B, T, V) logits.
    """
    from tinytorch.core.losses import CrossEntropyLoss
    from tinytorch.core.optimizers import Adam
    from tinytorch.core.tensor import Tensor

    b, t, steps = cfg["batch_size"], cfg["seq_len"], cfg["steps"]
    model = import_gpt()(vocab_size=vocab_size, embed_dim=cfg["embed_dim"], num_layers=cfg["num_layers"],
                         num_heads=cfg["num_heads"], max_seq_len=t)
    optimizer = Adam(model.parameters(), lr=cfg["lr"])
    loss_fn = CrossEntropyLoss()

    def logits_of(x: np.ndarray) -> np.ndarray:
        with no_grad():
            return checked_logits(model(Tensor(x)), x, vocab_size)

    started, losses = time.perf_counter(), []
    print(f"Training for {steps} steps of {b} windows x {t} characters...")
    for step in range(steps):
        x, y = random_windows(train_ids, b, t, rng)
        loss = loss_fn(model(Tensor(x)).reshape(b * t, vocab_size), Tensor(y.reshape(-1)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(to_numpy(loss)))
        if step % max(1, steps // 8) == 0:
            print(f"  step {step:4d}  loss {losses[-1]:.3f}  ({time.perf_counter() - started:.0f} s)")
    return model, logits_of, losses, time.perf_counter() - started


def checked_logits(logits, batch: np.ndarray, vocab_size: int) -> np.ndarray:
    """Your model's logits as an array; a clear stop if they are not shaped (batch, seq, vocab)."""
    out = to_numpy(logits)
    if out.shape != (*batch.shape, vocab_size):
        raise SystemExit(f"GPT returned logits of shape {out.shape} for token ids of shape {batch.shape}; "
                         f"expected (batch, seq, vocab) = {(*batch.shape, vocab_size)}")
    return out


def generation_problems(ids, prompt_ids: np.ndarray, new_tokens: int, vocab_size: int) -> list[str]:
    """What is wrong with ``generate()``'s output for a prompt (empty: prompt + new_tokens valid ids)."""
    ids = np.asarray(ids, dtype=np.float64).reshape(-1)
    problems, expected = [], len(prompt_ids) + new_tokens
    if len(ids) != expected:
        problems.append(f"expected {expected} ids (prompt + {new_tokens}), got {len(ids)}")
    whole = np.all(np.isfinite(ids)) and np.all(ids == np.round(ids))
    if not whole or np.any((ids < 0) | (ids >= vocab_size)):
        problems.append(f"ids must be whole numbers in [0, {vocab_size})")
    elif not np.array_equal(ids[:len(prompt_ids)], prompt_ids):
        problems.append("the output does not start with the prompt")
    return problems


def greedy_decode(logits_of: Callable[[np.ndarray], np.ndarray], prompts, stop: Callable[[list[int]], bool],
                  seq_len: int, max_new: int) -> list[list[int]]:
    """Greedy decoding of all prompts in one right-padded batch until `stop(sequence)` holds.

    At most `max_new` new ids per prompt; each row sees at most its last `seq_len` tokens, and a
    causal model never looks at the padding after a row's last token. Returns the new ids only.
    """
    seqs = [list(p) for p in prompts]
    done = [False] * len(seqs)
    for _ in range(max_new):
        active = [i for i, d in enumerate(done) if not d]
        if not active:
            break
        contexts = [seqs[i][-seq_len:] for i in active]
        batch = np.zeros((len(active), max(len(c) for c in contexts)), dtype=np.int64)
        for row, context in enumerate(contexts):
            batch[row, :len(context)] = context
        logits = logits_of(batch)
        for row, i in enumerate(active):
            seqs[i].append(int(np.argmax(logits[row, len(contexts[row]) - 1])))
            done[i] = stop(seqs[i])
    return [s[len(p):] for s, p in zip(seqs, prompts, strict=True)]


# --- the graded tasks, shared with the host (harness/evidence/language.py loads this module) ---

# Quick profiles of tinytalks and codebot train ONE block: the course's backward recurses once per
# path through the graph, so each residual block multiplies a step's cost (~0.06 s for one block,
# ~0.45 s for two at 16 x 64 characters, one core). text_generation and generation_opts keep two
# blocks in quick, so the host still checks a stack of blocks against its numpy rebuild.
TINYTALKS_CONFIG = {  # the model and training of extras/01_tinytalks.py, per profile
    "full": dict(embed_dim=64, num_layers=2, num_heads=4, seq_len=64, batch_size=32, steps=1200, lr=3e-3),
    "quick": dict(embed_dim=48, num_layers=1, num_heads=4, seq_len=64, batch_size=16, steps=600, lr=5e-3),
}
TEXTGEN_CONFIG = {  # the model and training of extras/01_vaswani_generation.py
    "full": dict(embed_dim=64, num_layers=2, num_heads=4, seq_len=64, batch_size=32, steps=800, lr=3e-3),
    "quick": dict(embed_dim=48, num_layers=2, num_heads=4, seq_len=48, batch_size=16, steps=150, lr=5e-3),
}
QUICKDEMO_CONFIG = {  # the model and training of extras/03_quickdemo.py
    "full": dict(embed_dim=64, num_layers=2, num_heads=4, seq_len=48, batch_size=32, steps=800, lr=3e-3),
    "quick": dict(embed_dim=32, num_layers=1, num_heads=2, seq_len=32, batch_size=16, steps=60, lr=5e-3),
}
GENOPTS_CONFIG = {  # the timed KV-cache model of extras/03_generation_opts.py, per profile
    # A short prompt and many new tokens: recomputing costs O(context) per token, the cache O(1)
    # forwards of one token. Cached and recomputing runs alternate; the best of kv_repeats counts.
    "full": dict(vocab_size=64, embed_dim=256, num_layers=4, num_heads=8, prompt_len=16,
                 new_tokens=176, kv_repeats=3, samples=4000),
    "quick": dict(vocab_size=64, embed_dim=128, num_layers=2, num_heads=4, prompt_len=16,
                  new_tokens=176, kv_repeats=5, samples=2000),
}
GENOPTS_SAMPLER = dict(  # its small model for generate()'s sampling checks
    vocab_size=16, embed_dim=32, num_layers=1, num_heads=2, max_seq_len=16)
GENOPTS_CONTEXT_LEN, GREEDY_STEPS, TEMPERATURE = 6, 8, 0.5
# The low temperature of the greedy check: at most 0.1 (the course's example), and small enough
# that every step's runner-up has probability below exp(-GAP_TEMPERATURES) of the argmax's.
GREEDY_MAX_TEMPERATURE, GAP_TEMPERATURES = 0.1, 25.0
TINYTALKS_CONTEXT = "Q: how are you?\nA: i am fine, thank you.\n"  # one known exchange first
MAX_ANSWER_CHARS = 32
CODEBOT_CONFIG = {  # the model and training of extras/02_vaswani_dialogue.py, per profile
    "full": dict(embed_dim=64, num_layers=2, num_heads=4, seq_len=96, batch_size=32, steps=1000, lr=3e-3),
    "quick": dict(embed_dim=48, num_layers=1, num_heads=4, seq_len=64, batch_size=16, steps=800, lr=5e-3),
}
CODEBOT_DIR = Path(__file__).resolve().parents[1] / "data" / "codebot"
MAX_COMPLETION_CHARS = 160


def tinytalks_pairs(split: str) -> list[dict]:
    return read_jsonl(TINYTALKS_DIR / f"{split}.jsonl")


def tinytalks_vocab() -> CharVocab:
    """The characters of the train and val conversations and of the test questions."""
    train, val, test = (tinytalks_pairs(s) for s in ("train", "val", "test"))
    return CharVocab("".join(map(qa_text, train)), "".join(map(qa_text, val)), *(p["question"] for p in test))


def tinytalks_answers(logits_of, pairs: list[dict], vocab: CharVocab, seq_len: int) -> list[str]:
    """Greedy answers to each pair's question, asked after one known exchange (mid-conversation)."""
    prompts = [vocab.encode(f"{TINYTALKS_CONTEXT}Q: {p['question']}\nA: ") for p in pairs]
    stop_id = vocab.stoi["\n"]
    decoded = greedy_decode(logits_of, prompts, lambda seq: seq[-1] == stop_id, seq_len, MAX_ANSWER_CHARS)
    return [vocab.decode(ids).split("\n")[0] for ids in decoded]


def codebot_functions(split: str) -> list[str]:
    """The functions of one split (each ends with a newline)."""
    text = shipped_file(CODEBOT_DIR / f"{split}.txt").read_text(encoding="utf-8")
    return [f.strip("\n") + "\n" for f in text.split("\n\n") if f.strip()]


def codebot_vocab() -> CharVocab:
    train, val, test = (codebot_functions(s) for s in ("train", "val", "test"))
    return CharVocab("\n".join(train), "\n".join(val), *test)


def codebot_programs(logits_of, functions: list[str], vocab: CharVocab, seq_len: int) -> list[str]:
    """Each function's first line completed greedily until a blank line (or 160 characters)."""
    newline = vocab.stoi["\n"]

    def finished(seq: list[int]) -> bool:  # a blank line ends a function
        return len(seq) >= 2 and seq[-1] == newline and seq[-2] == newline

    headers = [f.split("\n", 1)[0] + "\n" for f in functions]
    completions = greedy_decode(logits_of, [vocab.encode(h) for h in headers], finished, seq_len,
                                MAX_COMPLETION_CHARS)
    return [h + vocab.decode(ids) for h, ids in zip(headers, completions, strict=True)]


def tinytalks_char_vocab() -> CharVocab:
    """The vocabulary of the TinyTalks text itself (train and val; text_generation, quickdemo)."""
    return CharVocab(tinytalks_text("train"), tinytalks_text("val"))
