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
4. `sample_decodes`: your `GPT.generate(prompt, max_new_tokens, temperature)` continues a
   prompt (batch of one) with valid token ids that decode back to text.

Run it yourself: `python extras/01_vaswani_generation.py` (add `--quick` for a short run).
"""

from __future__ import annotations

import sys
import traceback

import numpy as np
from _harness import evidence, metrics
from _harness.common import parse_args, seed_everything, to_numpy
from _harness.export import named_arrays
from _harness.lm import (
    TEXTGEN_CONFIG,
    CharVocab,
    bigram_nll,
    generation_problems,
    mean_nll,
    random_windows,
    tiled_windows,
    tinytalks_text,
    train_char_gpt,
)

PROMPT = "Q: what color is a "
SAMPLE_TEMPERATURE = 0.8



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


def sample(model, prompt_ids: np.ndarray, new_tokens: int, vocab: CharVocab, tensor_cls):
    """Ask YOUR generate(prompt, max_new_tokens, temperature) to continue the prompt; check and decode.
    Returns (it decodes, the text or what is wrong, the raw output)."""
    try:
        out = to_numpy(model.generate(tensor_cls(prompt_ids[None]), max_new_tokens=new_tokens,
                                      temperature=SAMPLE_TEMPERATURE))
    except Exception:  # a crash in generate fails this check only; the traceback tells the student why
        traceback.print_exc()
        return False, "generate() raised an exception (traceback above)", None
    problems = generation_problems(out, prompt_ids, new_tokens, vocab.size)
    if problems:
        return False, "; ".join(problems), out
    return True, vocab.decode(np.asarray(out).reshape(-1)), out


def main() -> int:
    args = parse_args(__doc__.splitlines()[0])
    seed_everything(args.seed)
    cfg = TEXTGEN_CONFIG["quick" if args.quick else "full"]

    from tinytorch.core.tensor import Tensor

    train_text, val_text = tinytalks_text("train"), tinytalks_text("val")
    vocab = CharVocab(train_text, val_text)
    train_ids, val_ids, vocab_size = vocab.encode(train_text), vocab.encode(val_text), vocab.size
    t = cfg["seq_len"]
    print(f"TinyTalks text: {len(train_ids)} training and {len(val_ids)} held-out characters, "
          f"vocabulary {vocab_size}.")

    rng = np.random.default_rng(args.seed)
    model, logits32_of, losses, train_seconds = train_char_gpt(cfg, vocab_size, train_ids, rng)

    def logits_of(x: np.ndarray) -> np.ndarray:
        return logits32_of(x).astype(np.float64)

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

    prompt_ids = vocab.encode(PROMPT)
    # prompt + new tokens fit the model's context, so no generate() needs to crop
    decodes, text, sampled = sample(model, prompt_ids, t - len(prompt_ids), vocab, Tensor)
    if decodes:
        print("Sample:", repr(text))
    else:
        print("Sampling failed:", text, file=sys.stderr)

    given = evidence.inputs()  # under the harness: the host recomputes every number from these
    evidence.export_weights(named_arrays(model))
    evidence.record_consistency(given, lambda x: logits_of(x.astype(np.int64)))
    if "causal.x" in given:  # a window and copies changed from several cuts on
        evidence.record("causal.out", logits_of(given["causal.x"].astype(np.int64)))
    if decodes:
        evidence.record("sample.ids", np.asarray(to_numpy(sampled), dtype=np.float64).reshape(-1))
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
