"""CodeBot: YOUR transformer learns to autocomplete Python.

A character-level GPT reads a corpus of small Python functions (extras/data/codebot), then
completes functions it has never seen, given only their first line:

    def count_ages_at_least_47(ages):        <- the prompt
        count = 0                            <- written by YOUR model
        for age in ages:
        ...

Measured:
- `heldout_next_char_accuracy`: on held-out functions, how often the model's most likely next
  character is the right one (numpy argmax of your logits);
- `parse_rate`: the share of completions of held-out prompts that are valid Python
  (`ast.parse` accepts the prompt plus the completion). The script writes the completed programs
  (`codebot_programs.json`) and the grader parses them itself (never running them); the count
  printed here is the script's own.

Run it yourself: `python extras/02_vaswani_dialogue.py`. Add `--interactive` to type your own
`def` lines after training (the graded run never waits for input); `--quick` for a short run.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np
from _harness import metrics
from _harness.common import parse_args, seed_everything, to_numpy

DATA_DIR = Path(__file__).resolve().parent / "data" / "codebot"
MAX_COMPLETION_CHARS = 160

CONFIG = {
    "full": dict(embed_dim=64, num_layers=2, num_heads=4, seq_len=96, batch_size=32, steps=1000, lr=3e-3),
    "quick": dict(embed_dim=48, num_layers=2, num_heads=4, seq_len=64, batch_size=16, steps=200, lr=5e-3),
}


def load_functions(split: str) -> list[str]:
    """The functions of one split (each ends with a newline)."""
    path = DATA_DIR / f"{split}.txt"
    if not path.is_file():
        raise SystemExit(f"{path} is missing: extras/data ships with the extras; restore it "
                         "(e.g. `git checkout -- extras/data`)")
    text = path.read_text(encoding="utf-8")
    return [f.strip("\n") + "\n" for f in text.split("\n\n") if f.strip()]


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


def greedy_complete(logits_of, prompts: list[list[int]], stop, seq_len: int) -> list[list[int]]:
    """Greedy decoding of all prompts in one right-padded batch until `stop(sequence)` holds.

    Each row sees at most its last `seq_len` tokens; a causal model ignores the padding.
    """
    seqs = [list(p) for p in prompts]
    done = [False] * len(seqs)
    for _ in range(MAX_COMPLETION_CHARS):
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


def parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interactive", action="store_true",
                        help="after training, complete `def` lines you type (never used by the harness)")
    args = parse_args(parser=parser)
    seed_everything(args.seed)
    cfg = CONFIG["quick" if args.quick else "full"]

    from tinytorch.core.autograd import no_grad
    from tinytorch.core.losses import CrossEntropyLoss
    from tinytorch.core.optimizers import Adam
    from tinytorch.core.tensor import Tensor
    GPT = import_gpt()

    train, val, test = load_functions("train"), load_functions("val"), load_functions("test")
    train_text, val_text = "\n".join(train), "\n".join(val)
    chars = sorted(set(train_text + val_text + "".join(test)))
    stoi = {c: i for i, c in enumerate(chars)}
    train_ids = np.array([stoi[c] for c in train_text], dtype=np.int64)
    val_ids = np.array([stoi[c] for c in val_text], dtype=np.int64)
    vocab_size, newline = len(chars), stoi["\n"]
    b, t = cfg["batch_size"], cfg["seq_len"]
    print(f"CodeBot corpus: {len(train)} training functions ({len(train_ids)} characters), "
          f"{len(test)} held-out prompts, vocabulary {vocab_size}.")

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
    accuracy = float(np.mean(np.argmax(logits_of(val_x), axis=-1) == val_y))
    counts = np.zeros((vocab_size, vocab_size))
    np.add.at(counts, (train_ids[:-1], train_ids[1:]), 1.0)
    bigram_accuracy = float(np.mean(np.argmax(counts, axis=1)[val_x] == val_y))
    print(f"Held-out next-character accuracy {accuracy:.1%} "
          f"(a counted bigram model gets {bigram_accuracy:.1%}).")

    def finished(seq: list[int]) -> bool:  # a blank line ends a function
        return len(seq) >= 2 and seq[-1] == newline and seq[-2] == newline

    headers = [f.split("\n", 1)[0] + "\n" for f in test]
    completions = greedy_complete(logits_of, [[stoi[c] for c in h] for h in headers], finished, t)
    programs = [h + "".join(chars[i] for i in ids) for h, ids in zip(headers, completions, strict=True)]
    ok = [parses(p) for p in programs]
    exact = [p.rstrip("\n") == f.rstrip("\n") for p, f in zip(programs, test, strict=True)]
    for program, good in list(zip(programs, ok, strict=True))[:3]:
        print(f"--- {'parses' if good else 'DOES NOT PARSE'} ---\n{program.rstrip()}")
    print(f"Completions that parse: {sum(ok)}/{len(ok)}; identical to the held-out function: {sum(exact)}.")

    metrics.report("heldout_next_char_accuracy", accuracy)
    metrics.report("bigram_next_char_accuracy", bigram_accuracy)
    metrics.report("exact_completion_rate", float(np.mean(exact)))
    metrics.report("train_seconds", train_seconds)
    metrics.series("train_loss", losses)
    metrics.write_json("codebot_programs.json", programs)

    if args.interactive:
        print("Type the first line of a function (empty line to quit):")
        for line in sys.stdin:
            line = line.rstrip("\n")
            if not line:
                break
            unknown = sorted(set(line) - set(stoi))
            if unknown:
                print(f"CodeBot does not know the characters {unknown}; try again.")
                continue
            ids = greedy_complete(logits_of, [[stoi[c] for c in line + "\n"]], finished, t)[0]
            print(line + "\n" + "".join(chars[i] for i in ids))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
