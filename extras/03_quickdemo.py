"""Quick GPT demo: watch YOUR transformer go from guessing to knowing, in about two minutes.

A freshly initialised language model knows nothing, so it spreads its bets evenly over the
vocabulary: its loss starts near ln(vocab_size). Training your GPT on the TinyTalks
conversations with your Adam and your CrossEntropyLoss should pull the loss far below that.

What this script measures (all in numpy, from your model's logits, so that a loss function
that returns a wrong number cannot fake progress):
- `initial_loss`: held-out loss before training, and `initial_loss_ratio` = initial_loss /
  ln(vocab_size) (close to 1: an untrained model should not be confidently wrong);
- `final_loss`: held-out loss after training (should be far below);
- `loss_drop`: the difference;
- `cross_entropy_error`: |your CrossEntropyLoss - the numpy cross-entropy| on one batch.

Run it yourself: `python extras/03_quickdemo.py` (add `--quick` for a 10-second version).
"""

from __future__ import annotations

import math
import time

import numpy as np
from _harness import evidence, metrics
from _harness.common import parse_args, seed_everything, to_numpy
from _harness.course import no_grad
from _harness.export import named_arrays
from _harness.lm import (
    QUICKDEMO_CONFIG,
    CharVocab,
    checked_logits,
    import_gpt,
    mean_nll,
    random_windows,
    tiled_windows,
    tinytalks_text,
)


def main() -> int:
    args = parse_args(__doc__.splitlines()[0])
    seed_everything(args.seed)
    cfg = QUICKDEMO_CONFIG["quick" if args.quick else "full"]
    from tinytorch.core.losses import CrossEntropyLoss
    from tinytorch.core.optimizers import Adam
    from tinytorch.core.tensor import Tensor
    GPT = import_gpt()

    train_text, val_text = tinytalks_text("train"), tinytalks_text("val")
    vocab = CharVocab(train_text, val_text)
    train_ids, val_ids, vocab_size = vocab.encode(train_text), vocab.encode(val_text), vocab.size
    print(f"TinyTalks: {len(train_text)} training characters, vocabulary of {vocab_size}.")
    print(f"A model that knows nothing scores ln({vocab_size}) = {math.log(vocab_size):.3f} "
          "nats per character.")

    model = GPT(vocab_size=vocab_size, embed_dim=cfg["embed_dim"], num_layers=cfg["num_layers"],
                num_heads=cfg["num_heads"], max_seq_len=cfg["seq_len"])
    params = model.parameters()
    print(f"GPT: {cfg['num_layers']} layers, {cfg['num_heads']} heads, width {cfg['embed_dim']}, "
          f"{sum(p.data.size for p in params):,} parameters.")
    optimizer = Adam(params, lr=cfg["lr"])
    loss_fn = CrossEntropyLoss()

    val_x, val_y = tiled_windows(val_ids, cfg["seq_len"])

    def own_logits(x: np.ndarray) -> np.ndarray:
        with no_grad():
            return checked_logits(model(Tensor(x.astype(np.int64))), x, vocab_size)

    def held_out_loss() -> float:
        with no_grad():
            return mean_nll(checked_logits(model(Tensor(val_x)), val_x, vocab_size), val_y)

    given = evidence.inputs()  # under the harness: the host recomputes every number from these
    evidence.export_weights(named_arrays(model), prefix="initial.")
    if "ce.logits" in given:  # YOUR CrossEntropyLoss on the grader's logits and targets
        evidence.record("ce.loss", loss_fn(Tensor(given["ce.logits"]), Tensor(given["ce.targets"])))
    initial = held_out_loss()
    print(f"Held-out loss before training: {initial:.3f}")

    rng = np.random.default_rng(args.seed)
    b, t = cfg["batch_size"], cfg["seq_len"]
    losses, ce_error = [], None
    started = time.perf_counter()
    for step in range(cfg["steps"]):
        x, y = random_windows(train_ids, b, t, rng)
        logits = model(Tensor(x))
        loss = loss_fn(logits.reshape(b * t, vocab_size), Tensor(y.reshape(-1)))
        if ce_error is None:  # your loss against the numpy one, on the very first batch
            ce_error = abs(float(to_numpy(loss)) - mean_nll(to_numpy(logits), y))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(to_numpy(loss)))
        if step % max(1, cfg["steps"] // 10) == 0 or step == cfg["steps"] - 1:
            elapsed = time.perf_counter() - started
            print(f"  step {step:4d}  training loss {losses[-1]:.3f}  ({elapsed:.0f} s)")

    final = held_out_loss()
    print(f"Held-out loss after training: {final:.3f} (started at {initial:.3f}, "
          f"chance is {math.log(vocab_size):.3f})")

    evidence.export_weights(named_arrays(model))
    evidence.record_consistency(given, own_logits)
    metrics.report("ln_vocab", math.log(vocab_size))
    metrics.report("initial_loss", initial)
    metrics.report("initial_loss_ratio", initial / math.log(vocab_size))
    metrics.report("final_loss", final)
    metrics.report("loss_drop", initial - final)
    metrics.report("cross_entropy_error", ce_error)
    metrics.report("train_seconds", time.perf_counter() - started)
    metrics.series("train_loss", losses)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
