"""Evidence kits of the language-model extras: the host rebuilds the trained GPT and runs the task.

The run exports its trained GPT (``evidence/weights.<dotted name>``, the course's attribute names)
and its own logits on a secret batch of token ids. The host rebuilds the GPT in numpy
(:mod:`harness.evidence.numpy_gpt`), checks that it reproduces those logits (else "architecture
mismatch"), then computes every grade-bearing number itself: greedy TinyTalks answers against the
instructor's answer key, CodeBot completions parsed with ``ast``, held-out losses and accuracies.
Prompts, vocabularies and decoding are the extras' own (``extras/_harness/lm.py``), loaded from
the grader's checkout.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import ArchitectureMismatch, EvidenceProblem
from .kit import Arrays, HostValue, Kit, Prepared, consistent, weights_or_problem
from .numpy_gpt import NumpyGPT
from .shipped import helper

CONSISTENCY_TOLERANCE = 1e-3  # float32 package vs float64 numpy: ~1e-6 measured on the reference


def _rebuilt(evidence: Arrays, num_heads: int, prepared: Prepared) -> NumpyGPT:
    weights = {name[len("weights."):]: value for name, value in evidence.items()
               if name.startswith("weights.")}
    if not weights:
        raise ArchitectureMismatch("the run exported no trained weights (evidence/weights.*): the script "
                                   "stopped before the end of training")
    tokens = prepared.public["consistency.x"]
    try:
        gpt = NumpyGPT(weights, num_heads)
        consistent(gpt.logits(tokens), evidence, tolerance=CONSISTENCY_TOLERANCE)
        return gpt
    except ArchitectureMismatch as mismatch:
        # The 2025 course's GPT hands its attention a 0/-inf mask where a 1/0 one is expected, so
        # a package that follows it to the letter trains near-uniform attention: grade the model
        # the course produced when that is the one the weights and the logits describe.
        try:
            course = NumpyGPT(weights, num_heads, attention="course-2025")
            consistent(course.logits(tokens), evidence, tolerance=CONSISTENCY_TOLERANCE)
        except ArchitectureMismatch:
            raise mismatch from None
        return course
    except ValueError as exc:
        raise ArchitectureMismatch(f"architecture mismatch: {exc}") from None


def _prepare(config: dict, vocab_size: Callable[[], int]) -> Callable[[np.random.Generator, str], Prepared]:
    def prepare(rng: np.random.Generator, profile: str) -> Prepared:
        seq_len = config[profile]["seq_len"]
        tokens = rng.integers(0, vocab_size(), (2, seq_len)).astype(np.int64)
        return Prepared({"consistency.x": tokens})
    return prepare


# --- TinyTalks ---------------------------------------------------------------------------------

TINYTALKS_METRICS = ("exact_answer_rate", "train_exact_answer_rate", "heldout_gain_over_bigram")
ANSWER_KEY = "tinytalks_test_answers.json"
RECALL_SAMPLE = 84  # training questions asked back (extras/01_tinytalks.py)


def _answer_key() -> list[str]:
    from harness.scoring import ScoringUnavailable, load_reference

    from .secrets import active_secrets

    path = active_secrets().references_dir / ANSWER_KEY
    if not path.is_file():
        raise ScoringUnavailable(f"the answer key {path} is missing from the secrets")
    key = load_reference(path)
    if not isinstance(key, list) or not all(isinstance(a, str) for a in key):
        raise ScoringUnavailable(f"the answer key {path} is not a JSON list of strings")
    return key


def score_tinytalks(evidence: Arrays, prepared: Prepared, profile: str) -> dict[str, HostValue]:
    from harness.scoring import normalise_text

    lm = helper("lm")
    cfg = lm.TINYTALKS_CONFIG[profile]

    def compute() -> dict[str, HostValue]:
        gpt = _rebuilt(evidence, cfg["num_heads"], prepared)
        vocab, seq_len = lm.tinytalks_vocab(), cfg["seq_len"]
        test, train = lm.tinytalks_pairs("test"), lm.tinytalks_pairs("train")
        key = _answer_key()
        if len(key) != len(test):
            raise EvidenceProblem(f"the answer key has {len(key)} answers for {len(test)} questions")
        answers = lm.tinytalks_answers(gpt.logits, test, vocab, seq_len)
        shown = train[:RECALL_SAMPLE]
        recalls = lm.tinytalks_answers(gpt.logits, shown, vocab, seq_len)
        train_ids = vocab.encode("".join(map(lm.qa_text, train)))
        val_x, val_y = lm.tiled_windows(vocab.encode("".join(map(lm.qa_text, lm.tinytalks_pairs("val")))),
                                        seq_len)
        return {
            "exact_answer_rate": float(np.mean([normalise_text(a) == normalise_text(e)
                                                for a, e in zip(answers, key, strict=True)])),
            "train_exact_answer_rate": float(np.mean([a == p["answer"] for a, p in zip(recalls, shown,
                                                                                        strict=True)])),
            "heldout_gain_over_bigram": lm.bigram_nll(train_ids, val_x, val_y, vocab.size)
            - lm.mean_nll(gpt.logits(val_x), val_y),
        }

    return weights_or_problem(compute, TINYTALKS_METRICS)


# --- CodeBot ----------------------------------------------------------------------------------

CODEBOT_METRICS = ("heldout_next_char_accuracy", "parse_rate")


def score_codebot(evidence: Arrays, prepared: Prepared, profile: str) -> dict[str, HostValue]:
    from harness.scoring import parse_rate

    lm = helper("lm")
    cfg = lm.CODEBOT_CONFIG[profile]

    def compute() -> dict[str, HostValue]:
        gpt = _rebuilt(evidence, cfg["num_heads"], prepared)
        vocab, seq_len = lm.codebot_vocab(), cfg["seq_len"]
        val_x, val_y = lm.tiled_windows(vocab.encode("\n".join(lm.codebot_functions("val"))), seq_len)
        programs = lm.codebot_programs(gpt.logits, lm.codebot_functions("test"), vocab, seq_len)
        return {"heldout_next_char_accuracy": float(np.mean(np.argmax(gpt.logits(val_x), axis=-1) == val_y)),
                "parse_rate": parse_rate(programs)}

    return weights_or_problem(compute, CODEBOT_METRICS)


def _vocab_size(name: str) -> Callable[[], int]:
    return lambda: getattr(helper("lm"), f"{name}_vocab")().size


KITS = {
    "tinytalks": Kit("tinytalks", TINYTALKS_METRICS,
                     _prepare(helper("lm").TINYTALKS_CONFIG, _vocab_size("tinytalks")), score_tinytalks),
    "codebot": Kit("codebot", CODEBOT_METRICS,
                   _prepare(helper("lm").CODEBOT_CONFIG, _vocab_size("codebot")), score_codebot),
}
