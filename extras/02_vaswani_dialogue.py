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
  (`ast.parse` accepts the prompt plus the completion). Under the harness the script exports the
  trained weights; the grader rebuilds the GPT in numpy, completes the prompts itself and parses
  the programs (never running them); the count printed here is the script's own.

Run it yourself: `python extras/02_vaswani_dialogue.py`. Add `--interactive` to type your own
`def` lines after training (the graded run never waits for input); `--quick` for a short run.
"""

from __future__ import annotations

import argparse
import ast
import sys

import numpy as np
from _harness import evidence, metrics
from _harness.common import parse_args, seed_everything
from _harness.export import named_arrays
from _harness.lm import (
    CODEBOT_CONFIG,
    MAX_COMPLETION_CHARS,
    bigram_counts,
    codebot_functions,
    codebot_programs,
    codebot_vocab,
    greedy_decode,
    tiled_windows,
    train_char_gpt,
)


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
    cfg = CODEBOT_CONFIG["quick" if args.quick else "full"]

    train, val, test = codebot_functions("train"), codebot_functions("val"), codebot_functions("test")
    train_text, val_text = "\n".join(train), "\n".join(val)
    vocab = codebot_vocab()
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

    programs = codebot_programs(logits_of, test, vocab, t)
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
    evidence.export_weights(named_arrays(model))
    evidence.record_consistency(evidence.inputs(), lambda x: logits_of(x.astype(np.int64)))

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
