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
import sys
from pathlib import Path

import numpy as np
from _harness import metrics
from _harness.common import parse_args, seed_everything
from _harness.lm import (
    CharVocab,
    bigram_counts,
    greedy_decode,
    shipped_file,
    tiled_windows,
    train_char_gpt,
)

DATA_DIR = Path(__file__).resolve().parent / "data" / "codebot"
MAX_COMPLETION_CHARS = 160

CONFIG = {
    "full": dict(embed_dim=64, num_layers=2, num_heads=4, seq_len=96, batch_size=32, steps=1000, lr=3e-3),
    "quick": dict(embed_dim=48, num_layers=2, num_heads=4, seq_len=64, batch_size=16, steps=400, lr=5e-3),
}


def load_functions(split: str) -> list[str]:
    """The functions of one split (each ends with a newline)."""
    text = shipped_file(DATA_DIR / f"{split}.txt").read_text(encoding="utf-8")
    return [f.strip("\n") + "\n" for f in text.split("\n\n") if f.strip()]


def parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interactive", action="store_true",
                        help="after training, complete `def` lines you type (never used by the harness)")
    args = parse_args(parser=parser)
    seed_everything(args.seed)
    cfg = CONFIG["quick" if args.quick else "full"]

    train, val, test = load_functions("train"), load_functions("val"), load_functions("test")
    train_text, val_text = "\n".join(train), "\n".join(val)
    vocab = CharVocab(train_text, val_text, *test)
    train_ids, val_ids = vocab.encode(train_text), vocab.encode(val_text)
    vocab_size, newline = vocab.size, vocab.stoi["\n"]
    t = cfg["seq_len"]
    print(f"CodeBot corpus: {len(train)} training functions ({len(train_ids)} characters), "
          f"{len(test)} held-out prompts, vocabulary {vocab_size}.")

    rng = np.random.default_rng(args.seed)
    model, logits_of, losses, train_seconds = train_char_gpt(cfg, vocab_size, train_ids, rng)

    val_x, val_y = tiled_windows(val_ids, t)
    accuracy = float(np.mean(np.argmax(logits_of(val_x), axis=-1) == val_y))
    counts = bigram_counts(train_ids, vocab_size)
    bigram_accuracy = float(np.mean(np.argmax(counts, axis=1)[val_x] == val_y))
    print(f"Held-out next-character accuracy {accuracy:.1%} "
          f"(a counted bigram model gets {bigram_accuracy:.1%}).")

    def finished(seq: list[int]) -> bool:  # a blank line ends a function
        return len(seq) >= 2 and seq[-1] == newline and seq[-2] == newline

    headers = [f.split("\n", 1)[0] + "\n" for f in test]
    completions = greedy_decode(logits_of, [vocab.encode(h) for h in headers], finished, t,
                                MAX_COMPLETION_CHARS)
    programs = [h + vocab.decode(ids) for h, ids in zip(headers, completions, strict=True)]
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
            unknown = sorted(set(line) - set(vocab.stoi))
            if unknown:
                print(f"CodeBot does not know the characters {unknown}; try again.")
                continue
            prompt = vocab.encode(line + "\n")
            ids = greedy_decode(logits_of, [prompt], finished, t, MAX_COMPLETION_CHARS)[0]
            print(line + "\n" + vocab.decode(ids))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
