"""Text generation with YOUR TinyGPT (Vaswani et al., 2017: "Attention is all you need").

A character-level GPT learns the TinyTalks conversations, then writes new ones. Four things are
measured, each in numpy from your model's logits:

1. `final_train_loss`: how well the model fits the training text;
2. `heldout_gain_over_bigram`: on held-out conversations, how many nats per character the
   model beats a bigram model counted from the training text (a bigram only looks one
   character back; attention should look much further);
3. `causality_max_diff`: a language model must not peek at the future. We change the later
   tokens of a sequence and measure how much the logits of the EARLIER positions move. With a
   correct causal mask they do not move at all;
4. `sample_decodes`: your `GPT.generate` continues a prompt with valid token ids that decode
   back to text.

Run it yourself: `python extras/01_vaswani_generation.py` (add `--quick` for a short run).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
import time
import traceback
from pathlib import Path

import numpy as np
from _harness import metrics
from _harness.common import parse_args, seed_everything, to_numpy

DATA_DIR = Path(__file__).resolve().parent / "data" / "tinytalks"
PROMPT = "Q: what color is a "

CONFIG = {
    "full": dict(embed_dim=64, num_layers=2, num_heads=4, seq_len=64, batch_size=32, steps=800, lr=3e-3),
    "quick": dict(embed_dim=48, num_layers=2, num_heads=4, seq_len=48, batch_size=16, steps=150, lr=5e-3),
}


def load_text(split: str) -> str:
    """One TinyTalks split as a text stream: 'Q: ...\\nA: ...\\n' per pair."""
    path = DATA_DIR / f"{split}.jsonl"
    if not path.is_file():
        raise SystemExit(f"{path} is missing: extras/data ships with the extras; restore it "
                         "(e.g. `git checkout -- extras/data`)")
    with open(path, encoding="utf-8") as handle:
        pairs = [json.loads(line) for line in handle]
    return "".join(f"Q: {p['question']}\nA: {p['answer']}\n" for p in pairs)


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
    """Cross-entropy in nats, computed in float64 numpy from raw logits."""
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


def causality_probe(logits_of, window: np.ndarray, vocab_size: int, rng: np.random.Generator) -> float:
    """Largest change of the logits BEFORE position `cut` when every token from `cut` on is changed."""
    worst = 0.0
    base = logits_of(window[None])
    for cut in (len(window) // 4, len(window) // 2, 3 * len(window) // 4):
        changed = window.copy()
        changed[cut:] = (changed[cut:] + rng.integers(1, vocab_size, size=len(window) - cut)) % vocab_size
        moved = np.abs(logits_of(changed[None])[:, :cut] - base[:, :cut]).max()
        worst = max(worst, float(moved))
    return worst


def sample(model, prompt_ids: np.ndarray, new_tokens: int, vocab_size: int, itos: dict,
           tensor_cls) -> tuple[bool, str]:
    """Ask YOUR generate() to continue the prompt; check the ids and decode them."""
    try:
        out = to_numpy(model.generate(tensor_cls(prompt_ids[None]), max_new_tokens=new_tokens,
                                      temperature=0.8, top_k=8))
    except Exception:  # a crash in generate fails this check only; the traceback tells the student why
        traceback.print_exc()
        return False, "generate() raised an exception (traceback above)"
    ids = np.asarray(out, dtype=np.float64).reshape(-1)
    problems = []
    if len(ids) != len(prompt_ids) + new_tokens:
        problems.append(f"expected {len(prompt_ids) + new_tokens} ids (prompt + {new_tokens}), "
                        f"got {len(ids)}")
    whole = np.all(np.isfinite(ids)) and np.all(ids == np.round(ids))
    if not whole or ids.min() < 0 or ids.max() >= vocab_size:
        problems.append(f"ids must be whole numbers in [0, {vocab_size})")
    elif not np.array_equal(ids[:len(prompt_ids)], prompt_ids):
        problems.append("the output does not start with the prompt")
    if problems:
        return False, "; ".join(problems)
    return True, "".join(itos[int(i)] for i in ids)


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


def main() -> int:
    args = parse_args(__doc__.splitlines()[0])
    seed_everything(args.seed)
    cfg = CONFIG["quick" if args.quick else "full"]

    from tinytorch.core.autograd import no_grad
    from tinytorch.core.losses import CrossEntropyLoss
    from tinytorch.core.optimizers import Adam
    from tinytorch.core.tensor import Tensor
    GPT = import_gpt()

    train_text, val_text = load_text("train"), load_text("val")
    chars = sorted(set(train_text + val_text))
    stoi = {c: i for i, c in enumerate(chars)}
    itos = dict(enumerate(chars))
    train_ids = np.array([stoi[c] for c in train_text], dtype=np.int64)
    val_ids = np.array([stoi[c] for c in val_text], dtype=np.int64)
    vocab_size = len(chars)
    b, t = cfg["batch_size"], cfg["seq_len"]
    print(f"TinyTalks text: {len(train_ids)} training and {len(val_ids)} held-out characters, "
          f"vocabulary {vocab_size}.")

    model = GPT(vocab_size=vocab_size, embed_dim=cfg["embed_dim"], num_layers=cfg["num_layers"],
                num_heads=cfg["num_heads"], max_seq_len=t)
    optimizer = Adam(model.parameters(), lr=cfg["lr"])
    loss_fn = CrossEntropyLoss()

    def logits_of(x: np.ndarray) -> np.ndarray:
        with no_grad():
            return checked_logits(model(Tensor(x)), x, vocab_size).astype(np.float64)

    rng = np.random.default_rng(args.seed)
    started, losses = time.perf_counter(), []
    print(f"Training for {cfg['steps']} steps of {b} windows x {t} characters...")
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

    fit_x, fit_y = random_windows(train_ids, 64, t, np.random.default_rng(args.seed + 1))
    final_train = mean_nll(logits_of(fit_x), fit_y)
    val_x, val_y = tiled_windows(val_ids, t)
    heldout = mean_nll(logits_of(val_x), val_y)
    bigram = bigram_nll(train_ids, val_x, val_y, vocab_size)
    print(f"Training loss {final_train:.3f}; held-out loss {heldout:.3f} vs bigram {bigram:.3f} "
          f"(gain {bigram - heldout:.3f} nats per character).")

    causality = causality_probe(logits_of, val_x[0], vocab_size, rng)
    verdict = "causal" if causality <= 1e-4 else "PEEKS AT THE FUTURE"
    print(f"Causality probe: earlier logits moved by at most {causality:.2e} ({verdict}).")

    prompt_ids = np.array([stoi[c] for c in PROMPT], dtype=np.int64)
    # prompt + new tokens fit the model's context, so no generate() needs to crop
    decodes, text = sample(model, prompt_ids, t - len(prompt_ids), vocab_size, itos, Tensor)
    if decodes:
        print("Sample:", repr(text))
    else:
        print("Sampling failed:", text, file=sys.stderr)

    metrics.report("final_train_loss", final_train)
    metrics.report("heldout_loss", heldout)
    metrics.report("bigram_heldout_loss", bigram)
    metrics.report("heldout_gain_over_bigram", bigram - heldout)
    metrics.report("causality_max_diff", causality)
    metrics.report("sample_decodes", decodes)
    metrics.report("train_seconds", train_seconds)
    metrics.series("train_loss", losses)
    metrics.write_json("sample.json", {"prompt": PROMPT, "decodes": decodes, "text": text})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
