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
from .kit import (
    Arrays,
    HostValue,
    Kit,
    Measured,
    Prepared,
    Timings,
    consistent,
    finite_or_explained,
    nonfinite,
    weights_or_problem,
)
from .numpy_gpt import NumpyGPT
from .shipped import helper
from .timed import decode_speedup, seal_decoding

CONSISTENCY_TOLERANCE = 1e-3  # float32 package vs float64 numpy: ~1e-6 measured on the reference


def rebuilt_gpt(evidence: Arrays, num_heads: int, prepared: Prepared, prefix: str = "weights.",
             tokens_name: str = "consistency.x", out_name: str = "consistency.out") -> NumpyGPT:
    """The run's GPT from ``evidence[prefix + name]``, checked against the run's own logits
    (``out_name``) on the host's tokens (``tokens_name``)."""
    weights = {name[len(prefix):]: value for name, value in evidence.items() if name.startswith(prefix)}
    if not weights:
        raise ArchitectureMismatch(f"the run exported no trained weights (evidence/{prefix}*): the script "
                                   "stopped before exporting them")
    tokens = prepared.public[tokens_name]
    try:
        gpt = NumpyGPT(weights, num_heads)
        consistent(gpt.logits(tokens), evidence, name=out_name, tolerance=CONSISTENCY_TOLERANCE)
        return gpt
    except ArchitectureMismatch as mismatch:
        # The 2025 course's GPT hands its attention a 0/-inf mask where a 1/0 one is expected, so
        # a package that follows it to the letter trains near-uniform attention: grade the model
        # the course produced when that is the one the weights and the logits describe.
        try:
            course = NumpyGPT(weights, num_heads, attention="course-2025")
            consistent(course.logits(tokens), evidence, name=out_name, tolerance=CONSISTENCY_TOLERANCE)
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
    from harness.judging.scorers import ScoringUnavailable, load_reference

    from .secrets import active_secrets

    path = active_secrets().references_dir / ANSWER_KEY
    if not path.is_file():
        raise ScoringUnavailable(f"the answer key {path} is missing from the secrets")
    key = load_reference(path)
    if not isinstance(key, list) or not all(isinstance(a, str) for a in key):
        raise ScoringUnavailable(f"the answer key {path} is not a JSON list of strings")
    return key


def score_tinytalks(evidence: Arrays, prepared: Prepared, profile: str) -> dict[str, HostValue]:
    from harness.judging.scorers import normalise_text

    lm = helper("lm")
    cfg = lm.TINYTALKS_CONFIG[profile]

    def compute() -> dict[str, HostValue]:
        gpt = rebuilt_gpt(evidence, cfg["num_heads"], prepared)
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
    from harness.judging.scorers import parse_rate

    lm = helper("lm")
    cfg = lm.CODEBOT_CONFIG[profile]

    def compute() -> dict[str, HostValue]:
        gpt = rebuilt_gpt(evidence, cfg["num_heads"], prepared)
        vocab, seq_len = lm.codebot_vocab(), cfg["seq_len"]
        val_x, val_y = lm.tiled_windows(vocab.encode("\n".join(lm.codebot_functions("val"))), seq_len)
        programs = lm.codebot_programs(gpt.logits, lm.codebot_functions("test"), vocab, seq_len)
        return {"heldout_next_char_accuracy": float(np.mean(np.argmax(gpt.logits(val_x), axis=-1) == val_y)),
                "parse_rate": parse_rate(programs)}

    return weights_or_problem(compute, CODEBOT_METRICS)


# --- text generation (TinyTalks text) -----------------------------------------------------------

TEXTGEN_METRICS = ("final_train_loss", "heldout_gain_over_bigram", "causality_max_diff", "sample_decodes")
TEXT_PROMPT = "Q: what color is a "  # extras/01_vaswani_generation.py


def prepare_text_generation(rng: np.random.Generator, profile: str) -> Prepared:
    """Consistency tokens, plus a window and copies of it changed from three cuts on (causality)."""
    lm = helper("lm")
    seq_len, vocab_size = lm.TEXTGEN_CONFIG[profile]["seq_len"], lm.tinytalks_char_vocab().size
    window = rng.integers(0, vocab_size, seq_len)
    cuts = [seq_len // 4, seq_len // 2, 3 * seq_len // 4]
    changed = [window.copy() for _ in cuts]
    for row, cut in zip(changed, cuts, strict=True):
        row[cut:] = (row[cut:] + rng.integers(1, vocab_size, seq_len - cut)) % vocab_size
    return Prepared({"consistency.x": rng.integers(0, vocab_size, (2, seq_len)).astype(np.int64),
                     "causal.x": np.stack([window, *changed]).astype(np.int64)},
                    {"cuts": cuts, "train_seed": int(rng.integers(2**31))})


CAUSAL_RESPONSE = 1e-3  # the logits from a cut on must move at least this much when the tokens do
SAMPLE_MIN_PROBABILITY = 1e-6  # of each generated token under the exported model at temperature 1


def _leak(evidence: Arrays, prepared: Prepared) -> HostValue:
    """How far YOUR model's logits before each cut moved when the tokens from the cut on changed."""
    out = evidence.get("causal.out")
    if out is None or out.ndim != 3 or out.shape[:2] != prepared.public["causal.x"].shape:
        return EvidenceProblem("the run recorded no logits of shape (4, seq_len, vocab) for the causality "
                               "windows (`causal.out`)")
    moved = max(float(np.abs(out[k + 1, :cut] - out[0, :cut]).max())
                for k, cut in enumerate(prepared.private["cuts"]))
    return finite_or_explained(moved, "the largest change of your logits before each cut",
                               nonfinite(**{"causal.out": out}))


def _causality(evidence: Arrays, prepared: Prepared, gpt: NumpyGPT, moved: float) -> HostValue:
    """``moved`` (no leak), counted only for logits that are the exported model's and that do respond
    to their tokens (a constant output is trivially "causal")."""
    out, windows, cuts = evidence["causal.out"], prepared.public["causal.x"], prepared.private["cuts"]
    consistent(gpt.logits(windows), evidence, name="causal.out", tolerance=CONSISTENCY_TOLERANCE)
    response = max(float(np.abs(out[k + 1, cut:] - out[0, cut:]).max()) for k, cut in enumerate(cuts))
    if not response > CAUSAL_RESPONSE:
        return EvidenceProblem(f"your logits from each cut on moved by at most {response:.2g} when the "
                               "tokens there changed: a model that ignores its input shows nothing about "
                               "causality")
    return moved


def _sample(evidence: Arrays, prompt: np.ndarray, new_tokens: int, vocab_size: int, gpt: NumpyGPT,
            gain: float) -> HostValue:
    """generate()'s continuation: well formed, every new token one the trained model could draw."""
    sample = evidence.get("sample.ids")
    problems = (["generate() returned nothing (see the run's output)"] if sample is None else
                helper("lm").generation_problems(sample, prompt, new_tokens, vocab_size))
    if problems:
        return EvidenceProblem("; ".join(problems))
    if not gain > 0:
        return EvidenceProblem(f"the model does not beat a bigram on held-out text (gain {gain:.3f} nats): "
                               "its samples are graded once it has learned")
    ids = sample.reshape(-1).astype(np.int64)
    logits = gpt.logits(ids[None, :-1])[0, len(prompt) - 1:]
    logits = logits - logits.max(axis=1, keepdims=True)
    probability = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    drawn = probability[np.arange(len(logits)), ids[len(prompt):]]
    if drawn.min() < SAMPLE_MIN_PROBABILITY:
        step = int(drawn.argmin()) + 1
        return EvidenceProblem(f"new token {step} has probability {drawn.min():.1e} under your exported "
                               "model: not a sample of it")
    return True


def score_text_generation(evidence: Arrays, prepared: Prepared, profile: str) -> dict[str, HostValue]:
    lm = helper("lm")
    cfg = lm.TEXTGEN_CONFIG[profile]
    vocab, seq_len = lm.tinytalks_char_vocab(), cfg["seq_len"]
    prompt = vocab.encode(TEXT_PROMPT)
    moved = _leak(evidence, prepared)  # a leak is reported as measured, whatever else is wrong
    leaks = not isinstance(moved, float) or not moved <= CAUSAL_RESPONSE

    def compute() -> dict[str, HostValue]:
        gpt = rebuilt_gpt(evidence, cfg["num_heads"], prepared)
        train_ids = vocab.encode(lm.tinytalks_text("train"))
        windows = np.random.default_rng(prepared.private["train_seed"])
        fit_x, fit_y = lm.random_windows(train_ids, 64, seq_len, windows)
        val_x, val_y = lm.tiled_windows(vocab.encode(lm.tinytalks_text("val")), seq_len)
        gain = lm.bigram_nll(train_ids, val_x, val_y, vocab.size) - lm.mean_nll(gpt.logits(val_x), val_y)
        out: dict[str, HostValue] = {"final_train_loss": lm.mean_nll(gpt.logits(fit_x), fit_y),
                                     "heldout_gain_over_bigram": gain}
        if not leaks:
            out.update(weights_or_problem(
                lambda: {"causality_max_diff": _causality(evidence, prepared, gpt, moved)},
                ("causality_max_diff",)))
        out["sample_decodes"] = _sample(evidence, prompt, seq_len - len(prompt), vocab.size, gpt, gain)
        return out

    metrics = weights_or_problem(compute, TEXTGEN_METRICS)
    if leaks:
        metrics["causality_max_diff"] = moved
    return metrics


# --- quick demo -------------------------------------------------------------------------------

QUICKDEMO_METRICS = ("initial_loss_ratio", "final_loss", "cross_entropy_error")


def prepare_quickdemo(rng: np.random.Generator, profile: str) -> Prepared:
    """Consistency tokens, and logits + targets for YOUR CrossEntropyLoss."""
    lm = helper("lm")
    seq_len, vocab_size = lm.QUICKDEMO_CONFIG[profile]["seq_len"], lm.tinytalks_char_vocab().size
    rows = int(rng.integers(8, 33))
    return Prepared({"consistency.x": rng.integers(0, vocab_size, (2, seq_len)).astype(np.int64),
                     "ce.logits": (rng.standard_normal((rows, vocab_size)) * 2).astype(np.float32),
                     "ce.targets": rng.integers(0, vocab_size, rows).astype(np.int64)})


def score_quickdemo(evidence: Arrays, prepared: Prepared, profile: str) -> dict[str, HostValue]:
    lm = helper("lm")
    cfg = lm.QUICKDEMO_CONFIG[profile]
    vocab, seq_len = lm.tinytalks_char_vocab(), cfg["seq_len"]

    def compute() -> dict[str, HostValue]:
        val_x, val_y = lm.tiled_windows(vocab.encode(lm.tinytalks_text("val")), seq_len)
        final = lm.mean_nll(rebuilt_gpt(evidence, cfg["num_heads"], prepared).logits(val_x), val_y)
        initial_weights = {k[len("initial."):]: v for k, v in evidence.items() if k.startswith("initial.")}
        if not initial_weights:
            raise EvidenceProblem("the run exported no initial weights (evidence/initial.*)")
        initial = lm.mean_nll(NumpyGPT(initial_weights, cfg["num_heads"]).logits(val_x), val_y)
        return {"initial_loss_ratio": initial / np.log(vocab.size), "final_loss": final,
                "cross_entropy_error": _cross_entropy_error(evidence, prepared, learned=final < initial)}

    return weights_or_problem(compute, QUICKDEMO_METRICS)


def _cross_entropy_error(evidence: Arrays, prepared: Prepared, learned: bool) -> HostValue:
    """|YOUR CrossEntropyLoss on the grader's logits - numpy's|, graded with the model it trained."""
    loss = evidence.get("ce.loss")
    if loss is None or loss.size != 1:
        return EvidenceProblem("YOUR CrossEntropyLoss returned nothing on the grader's logits (`ce.loss`)")
    if not learned:
        return EvidenceProblem("the model did not learn (held-out loss not below its start): the loss "
                               "function is graded with the training it drives")
    logits, targets = prepared.public["ce.logits"].astype(np.float64), prepared.public["ce.targets"]
    return abs(float(loss.reshape(-1)[0]) - helper("lm").cross_entropy(logits, targets))


# --- generation strategies: the KV cache and generate() ------------------------------------------

GENOPTS_METRICS = ("cached_logits_max_diff", "temperature_tv", "greedy_matches_argmax", "kv_speedup")


def prepare_generation_opts(rng: np.random.Generator, profile: str) -> Prepared:
    """Tokens for the cached-vs-uncached comparison, a consistency batch, and generate()'s context."""
    lm = helper("lm")
    cfg, sampler = lm.GENOPTS_CONFIG[profile], lm.GENOPTS_SAMPLER
    length = cfg["prompt_len"] + cfg["new_tokens"]
    context = rng.integers(0, sampler["vocab_size"], lm.GENOPTS_CONTEXT_LEN).astype(np.int64)
    return Prepared({"kv.tokens": rng.integers(0, cfg["vocab_size"], length).astype(np.int64),
                     "consistency.x": rng.integers(0, cfg["vocab_size"], (1, length)).astype(np.int64),
                     "sampler.context": context,
                     "sampler.consistency.x": context[None]},
                    sealed=seal_decoding(rng, vocab=cfg["vocab_size"], prompt_len=cfg["prompt_len"],
                                         rounds=cfg["kv_repeats"]))


def _sampler_checks(evidence: Arrays, prepared: Prepared) -> dict[str, HostValue]:
    """generate()'s draws at T and its near-greedy run, against the host's own sampler logits."""
    lm = helper("lm")
    context = prepared.public["sampler.context"]
    gpt = rebuilt_gpt(evidence, lm.GENOPTS_SAMPLER["num_heads"], prepared, prefix="sampler.weights.",
                   tokens_name="sampler.consistency.x", out_name="sampler.consistency.out")
    out: dict[str, HostValue] = {}
    draws = evidence.get("sampler.draws")
    if draws is None or draws.ndim != 1 or not draws.size:
        out["temperature_tv"] = EvidenceProblem("generate() produced no draws (`sampler.draws`)")
    else:
        scaled = gpt.logits(context[None])[0, -1] / lm.TEMPERATURE
        target = np.exp(scaled - scaled.max())
        target /= target.sum()
        freq = np.bincount(np.clip(draws.astype(np.int64), 0, len(target) - 1), minlength=len(target))
        out["temperature_tv"] = float(0.5 * np.abs(freq / draws.size - target).sum())
    greedy = evidence.get("sampler.greedy")
    if greedy is None:
        out["greedy_matches_argmax"] = EvidenceProblem("generate() at a low temperature returned nothing "
                                                       "(`sampler.greedy`)")
    else:
        expected = [*context.tolist(), *gpt.greedy(context, lm.GREEDY_STEPS)]
        out["greedy_matches_argmax"] = bool(np.array_equal(greedy.reshape(-1).astype(np.int64), expected))
    return out


def score_generation_opts(evidence: Arrays, prepared: Prepared, profile: str) -> dict[str, HostValue]:
    lm = helper("lm")
    cfg = lm.GENOPTS_CONFIG[profile]

    def exactness() -> dict[str, HostValue]:
        gpt = rebuilt_gpt(evidence, cfg["num_heads"], prepared)
        cached = evidence.get("kv.cached")
        tokens = prepared.public["kv.tokens"]
        if cached is None or cached.shape != (len(tokens), cfg["vocab_size"]):
            shape = (len(tokens), cfg["vocab_size"])
            raise EvidenceProblem(f"the run recorded no cached logits of shape {shape} (`kv.cached`): "
                                  "see the run's output for why the cache failed")
        diff = float(np.abs(cached - gpt.logits(tokens[None])[0]).max())
        return {"cached_logits_max_diff": finite_or_explained(
            diff, "the largest difference of the cached logits from the host's forward",
            nonfinite(**{"kv.cached": cached}))}

    metrics = weights_or_problem(exactness, ("cached_logits_max_diff",))
    metrics.update(weights_or_problem(lambda: _sampler_checks(evidence, prepared),
                                      ("temperature_tv", "greedy_matches_argmax")))
    return metrics


def timed_generation_opts(evidence: Arrays, prepared: Prepared, profile: str,
                          timings: Timings) -> dict[str, HostValue]:
    """The KV-cache speedup from the runner's clock, every decoded token checked on the host."""
    lm = helper("lm")
    cfg = lm.GENOPTS_CONFIG[profile]

    def compute() -> dict[str, HostValue]:
        gpt = rebuilt_gpt(evidence, cfg["num_heads"], prepared)
        new_tokens = cfg["new_tokens"] - helper("decode_timing").SUFFIX
        value, note = decode_speedup(evidence, prepared.sealed, timings, new_tokens, gpt.logits)
        return {"kv_speedup": Measured(value, note)}

    return weights_or_problem(compute, ("kv_speedup",))


def _vocab_size(name: str) -> Callable[[], int]:
    return lambda: getattr(helper("lm"), f"{name}_vocab")().size


KITS = {
    "tinytalks": Kit("tinytalks", TINYTALKS_METRICS,
                     _prepare(helper("lm").TINYTALKS_CONFIG, _vocab_size("tinytalks")), score_tinytalks),
    "codebot": Kit("codebot", CODEBOT_METRICS,
                   _prepare(helper("lm").CODEBOT_CONFIG, _vocab_size("codebot")), score_codebot),
    "text_generation": Kit("text_generation", TEXTGEN_METRICS, prepare_text_generation,
                           score_text_generation),
    "quickdemo": Kit("quickdemo", QUICKDEMO_METRICS, prepare_quickdemo, score_quickdemo),
    "generation_opts": Kit("generation_opts", GENOPTS_METRICS, prepare_generation_opts,
                           score_generation_opts, timed_generation_opts),
}
