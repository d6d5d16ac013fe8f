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
  in extras/data. Under the harness this script exports the trained weights and the grader
  rebuilds the GPT in numpy, decodes the answers itself and compares them with its answer key
  (never shown to the script), ignoring case and extra whitespace: no code in the package can
  answer for the model. Run directly from a clone, the script prints its own estimate;

- `train_exact_answer_rate`: the same for 84 questions it was trained on (recall);
- `heldout_gain_over_bigram`: how many nats per character the model beats a bigram model
  counted from the training conversations, on held-out conversations.

Run it yourself: `python extras/01_tinytalks.py` (add `--quick` for a short run).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
from _harness import evidence, metrics
from _harness.common import parse_args, seed_everything
from _harness.export import named_arrays
from _harness.lm import (
    TINYTALKS_CONFIG,
    bigram_nll,
    mean_nll,
    qa_text,
    tiled_windows,
    tinytalks_answers,
    tinytalks_pairs,
    tinytalks_vocab,
    train_char_gpt,
)

# The host's answer key: reachable from a clone of the repo, never inside the grading sandbox.
ANSWER_KEY = (Path(__file__).resolve().parents[1] / "criteria" / "sample-secrets" / "references"
              / "tinytalks_test_answers.json")
RECALL_SAMPLE = 84  # training questions asked back: did the model learn what it was shown?



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
    cfg = TINYTALKS_CONFIG["quick" if args.quick else "full"]

    train, val, test = tinytalks_pairs("train"), tinytalks_pairs("val"), tinytalks_pairs("test")
    train_text = "".join(qa_text(p) for p in train)
    val_text = "".join(qa_text(p) for p in val)
    vocab = tinytalks_vocab()
    vocab_size = vocab.size
    train_ids, val_ids = vocab.encode(train_text), vocab.encode(val_text)
    t = cfg["seq_len"]
    print(f"TinyTalks: {len(train)} training conversations, {len(test)} held-out questions, "
          f"vocabulary {vocab_size}.")

    rng = np.random.default_rng(args.seed)
    model, logits_of, losses, train_seconds = train_char_gpt(cfg, vocab_size, train_ids, rng)

    val_x, val_y = tiled_windows(val_ids, t)
    heldout = mean_nll(logits_of(val_x), val_y)
    bigram = bigram_nll(train_ids, val_x, val_y, vocab_size)
    print(f"Held-out loss {heldout:.3f} nats/char vs counted bigram {bigram:.3f}.")

    shown = train[:RECALL_SAMPLE]
    recalls = tinytalks_answers(logits_of, shown, vocab, t)
    recalled = [got == p["answer"] for got, p in zip(recalls, shown, strict=True)]
    print(f"Training questions answered exactly: {sum(recalled)}/{len(recalled)}")
    answers = tinytalks_answers(logits_of, test, vocab, t)
    print("Held-out questions (the grader scores these answers):")
    for p, got in list(zip(test, answers, strict=True))[:8]:
        print(f"  Q: {p['question']:<36} A: {got!r}")
    print_own_estimate(test, answers)

    evidence.export_weights(named_arrays(model))
    evidence.record_consistency(evidence.inputs(), lambda x: logits_of(x.astype(np.int64)))
    metrics.report("train_exact_answer_rate", float(np.mean(recalled)))
    metrics.report("heldout_loss", heldout)
    metrics.report("bigram_heldout_loss", bigram)
    metrics.report("heldout_gain_over_bigram", bigram - heldout)
    metrics.report("train_seconds", train_seconds)
    metrics.series("train_loss", losses)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
