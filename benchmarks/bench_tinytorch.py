"""One training step of tinytorch vs PyTorch CPU: MLP, LeNet-style CNN, small GPT.

Each case builds the same model in both frameworks with identical initial weights, checks that
the first step's losses agree, then times forward + backward + optimizer step (median of
`--repeats` after `--warmup`) with the same BLAS/OpenMP thread count in the same run. Peak memory
is the RSS increase of a fresh child process that builds the model and runs a few steps (same
method for both), plus the tracemalloc peak of one tinytorch step (numpy allocations only).

    python benchmarks/bench_tinytorch.py [--threads 1] [--repeats 20] [--cases mlp,cnn,gpt]
    python benchmarks/bench_tinytorch.py --unset-openblas-env   # re-exec without OPENBLAS_CORETYPE/L2_SIZE
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
OPENBLAS_TUNING_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
REEXEC_MARK = "BENCH_TINYTORCH_REEXECUTED"
TARGETS = {"mlp": 2.0, "cnn": 4.0, "gpt": 3.0}
TITLES = {
    "mlp": "MLP 784-256-128-10, batch 64, SGD+momentum",
    "cnn": "LeNet CNN 3x32x32, batch 64, SGD+momentum",
    "gpt": "GPT 2 layers d=64 4 heads, seq 64, batch 16, V=65, Adam",
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "1")),
                        help="BLAS/OpenMP threads for numpy and torch (default: $OMP_NUM_THREADS or 1)")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--cases", default="mlp,cnn,gpt", help="comma-separated subset of mlp,cnn,gpt")
    parser.add_argument("--unset-openblas-env", action="store_true",
                        help="re-execute with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset")
    parser.add_argument("--memory-child", nargs=2, metavar=("CASE", "FRAMEWORK"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    unknown = set(args.cases.split(",")) - set(TARGETS)
    if unknown:
        parser.error(f"unknown case(s) {sorted(unknown)}; choose from {sorted(TARGETS)}")
    if args.threads < 1 or args.repeats < 1 or args.warmup < 0:
        parser.error("need --threads >= 1, --repeats >= 1, --warmup >= 0")
    return args


def reexec_without_openblas_tuning() -> None:
    """Replace this process by the same command with the OpenBLAS tuning variables unset."""
    env = {k: v for k, v in os.environ.items() if k not in OPENBLAS_TUNING_VARS}
    env[REEXEC_MARK] = ",".join(f"{k}={os.environ.get(k, '<unset>')}" for k in OPENBLAS_TUNING_VARS)
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


def pin_threads(threads: int) -> None:
    """Must run before numpy/torch are imported: OpenBLAS reads these at load time."""
    for var in THREAD_VARS:
        os.environ[var] = str(threads)


# ----------------------------------------------------------------------------- the models


def build_case(case: str, framework: str, seed: int = 0):
    """Return a no-argument `step()` that runs one training step and returns the loss as float."""
    import numpy as np

    import tinytorch

    tinytorch.manual_seed(seed)
    data_rng = np.random.default_rng(seed)
    tt_model, tt_loss, x, y = {"mlp": _tt_mlp, "cnn": _tt_cnn, "gpt": _tt_gpt}[case](data_rng)
    if framework == "tinytorch":
        return _tt_step(case, tt_model, tt_loss, x, y)
    return _torch_step(case, tt_model, x, y)


def _tt_mlp(data_rng):
    from tinytorch import CrossEntropyLoss, Linear, ReLU, Sequential

    model = Sequential(Linear(784, 256), ReLU(), Linear(256, 128), ReLU(), Linear(128, 10))
    x = data_rng.normal(size=(64, 784)).astype("float32")
    return model, CrossEntropyLoss(), x, data_rng.integers(0, 10, size=64)


def _tt_cnn(data_rng):
    from tinytorch import CrossEntropyLoss, Flatten, Linear, ReLU, Sequential
    from tinytorch.core.spatial import Conv2d, MaxPool2d

    model = Sequential(Conv2d(3, 6, 5), ReLU(), MaxPool2d(2), Conv2d(6, 16, 5), ReLU(), MaxPool2d(2),
                       Flatten(), Linear(400, 120), ReLU(), Linear(120, 84), ReLU(), Linear(84, 10))
    x = data_rng.normal(size=(64, 3, 32, 32)).astype("float32")
    return model, CrossEntropyLoss(), x, data_rng.integers(0, 10, size=64)


def _tt_gpt(data_rng):
    from tinytorch import CrossEntropyLoss
    from tinytorch.core.transformer import GPT

    model = GPT(vocab_size=65, embed_dim=64, num_layers=2, num_heads=4, max_seq_len=64)
    tokens = data_rng.integers(0, 65, size=(16, 65))
    return model, CrossEntropyLoss(), tokens[:, :-1], tokens[:, 1:]


def _tt_step(case, model, loss_fn, x, y):
    from tinytorch import SGD, Adam, Tensor

    params = model.parameters()
    optimizer = Adam(params, lr=1e-3) if case == "gpt" else SGD(params, lr=0.01, momentum=0.9)
    inputs = Tensor(x)

    def step() -> float:
        optimizer.zero_grad()
        logits = model(inputs)
        loss = loss_fn(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        loss.backward()
        optimizer.step()
        return float(loss.data)

    return step


def _torch_step(case, tt_model, x, y):
    import torch

    model = {"mlp": _torch_sequential, "cnn": _torch_sequential, "gpt": _torch_gpt}[case](tt_model)
    optimizer = (torch.optim.Adam(model.parameters(), lr=1e-3) if case == "gpt"
                 else torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9))
    inputs = torch.from_numpy(x.astype("int64") if case == "gpt" else x)
    targets = torch.from_numpy(y.reshape(-1).astype("int64"))
    loss_fn = torch.nn.CrossEntropyLoss()

    def step() -> float:
        optimizer.zero_grad(set_to_none=True)
        logits = model(inputs)
        loss = loss_fn(logits.reshape(-1, logits.shape[-1]), targets)
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    return step


def _copy(param, array, transpose=False):
    import torch

    with torch.no_grad():
        param.copy_(torch.from_numpy(array.T.copy() if transpose else array))


def _torch_sequential(tt_model):
    """The torch twin of a tinytorch Sequential of Linear/Conv2d/ReLU/MaxPool2d/Flatten."""
    import torch.nn as nn

    layers = []
    for layer in tt_model.layers:
        kind = type(layer).__name__
        if kind == "Linear":
            twin = nn.Linear(*layer.weight.shape)
            _copy(twin.weight, layer.weight.data, transpose=True)  # tinytorch keeps (in, out)
            _copy(twin.bias, layer.bias.data)
        elif kind == "Conv2d":
            twin = nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride,
                             layer.padding)
            _copy(twin.weight, layer.weight.data)
            _copy(twin.bias, layer.bias.data)
        elif kind == "MaxPool2d":
            twin = nn.MaxPool2d(layer.kernel_size, layer.stride)
        else:
            twin = {"ReLU": nn.ReLU, "Flatten": nn.Flatten}[kind]()
        layers.append(twin)
    return nn.Sequential(*layers)


def _torch_gpt(tt_gpt):
    """A torch GPT with the same architecture and weights as tinytorch's GPT (pre-norm, the course's
    GELU x * sigmoid(1.702 x), learned positions as an Embedding)."""
    import math

    import torch
    import torch.nn as nn

    def linear(tt_linear):
        twin = nn.Linear(*tt_linear.weight.shape, bias=tt_linear.bias is not None)
        _copy(twin.weight, tt_linear.weight.data, transpose=True)
        if tt_linear.bias is not None:
            _copy(twin.bias, tt_linear.bias.data)
        return twin

    def layer_norm(tt_ln):
        twin = nn.LayerNorm(tt_ln.gamma.shape[-1], eps=tt_ln.eps)
        _copy(twin.weight, tt_ln.gamma.data)
        _copy(twin.bias, tt_ln.beta.data)
        return twin

    class Block(nn.Module):
        def __init__(self, tt_block, heads):
            super().__init__()
            attn = tt_block.attention
            self.heads = heads
            self.ln1, self.ln2 = layer_norm(tt_block.ln1), layer_norm(tt_block.ln2)
            self.q, self.k, self.v, self.o = (linear(attn.q_proj), linear(attn.k_proj), linear(attn.v_proj),
                                              linear(attn.out_proj))
            self.fc1, self.fc2 = linear(tt_block.mlp.linear1), linear(tt_block.mlp.linear2)

        def forward(self, x, mask):
            b, t, d = x.shape
            h = self.ln1(x)
            q, k, v = (proj(h).view(b, t, self.heads, d // self.heads).transpose(1, 2)
                       for proj in (self.q, self.k, self.v))
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(d // self.heads)
            attn = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1) @ v
            x = x + self.o(attn.transpose(1, 2).reshape(b, t, d))
            h = self.fc1(self.ln2(x))
            return x + self.fc2(h * torch.sigmoid(1.702 * h))

    class TorchGPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = nn.Embedding(*tt_gpt.token_embedding.weight.shape)
            self.pos = nn.Parameter(torch.from_numpy(tt_gpt.position_embedding.weight.data.copy()))
            _copy(self.tok.weight, tt_gpt.token_embedding.weight.data)
            self.blocks = nn.ModuleList(Block(blk, tt_gpt.num_heads) for blk in tt_gpt.blocks)
            self.ln_f, self.head = layer_norm(tt_gpt.ln_f), linear(tt_gpt.lm_head)

        def forward(self, ids):
            t = ids.shape[1]
            mask = torch.ones(t, t, dtype=torch.bool).tril()
            x = self.tok(ids) + self.pos[:t]
            for block in self.blocks:
                x = block(x, mask)
            return self.head(self.ln_f(x))

    return TorchGPT()


# ----------------------------------------------------------------------------- measuring


def _proc_status_kib(field: str) -> int:
    """VmRSS (current) or VmHWM (peak) of this process from /proc; VmHWM starts fresh at exec,
    unlike ru_maxrss, which Linux carries over from the parent."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not found in /proc/self/status")


def memory_child(case: str, framework: str) -> None:
    """Child process: print two RSS measures (MiB) as JSON.

    total: peak RSS over building the model and 4 steps, minus RSS after the imports (it includes
    library code paged in on first use, large for torch); step: peak RSS during 3 steady-state
    steps minus RSS just before them (activations, gradients and temporaries of a step).
    """
    import numpy  # noqa: F401  (imported before the baseline so library pages are not counted)

    if framework == "torch":
        import torch

        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    import tinytorch  # noqa: F401

    baseline = _proc_status_kib("VmRSS")
    step = build_case(case, framework)
    step()
    total_peak = _proc_status_kib("VmHWM")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current RSS
    before_steps = _proc_status_kib("VmRSS")
    for _ in range(3):
        step()
    step_peak = _proc_status_kib("VmHWM")
    print(json.dumps({"total_mib": (max(total_peak, step_peak) - baseline) / 1024,
                      "step_mib": (step_peak - before_steps) / 1024}))


def child_memory_mib(case: str, framework: str, threads: int) -> dict:
    env = {**os.environ, "PYTHONPATH": f"{REPO_ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    command = [sys.executable, __file__, "--threads", str(threads), "--memory-child", case, framework]
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"memory child {case}/{framework} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def tracemalloc_peak_mib(step) -> float:
    import tracemalloc

    tracemalloc.start()
    try:
        step()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def time_interleaved(tt_step, torch_step, warmup, repeats):
    """Median and p90 ms of each step, timed alternately so both see the same background load."""
    import time

    import numpy as np

    times = {tt_step: [], torch_step: []}
    for i in range(warmup + repeats):
        for step in (tt_step, torch_step):
            start = time.perf_counter()
            step()
            if i >= warmup:
                times[step].append((time.perf_counter() - start) * 1000.0)
    return tuple({"median_ms": float(np.median(times[step])), "p90_ms": float(np.percentile(times[step], 90))}
                 for step in (tt_step, torch_step))


def run(args) -> list[dict]:
    import torch

    torch.set_num_threads(args.threads)
    rows = []
    for case in args.cases.split(","):
        tt_step, torch_step = build_case(case, "tinytorch"), build_case(case, "torch")
        tt_first, torch_first = tt_step(), torch_step()
        if abs(tt_first - torch_first) > 1e-4 * max(1.0, abs(torch_first)):
            raise AssertionError(f"{case}: first-step losses differ: tinytorch {tt_first} vs torch "
                                 f"{torch_first}; the two models are not the same computation")
        tt, ref = time_interleaved(tt_step, torch_step, args.warmup, args.repeats)
        rows.append({
            "case": case, "title": TITLES[case], "loss_diff": abs(tt_first - torch_first),
            "tinytorch_ms": tt["median_ms"], "tinytorch_p90_ms": tt["p90_ms"],
            "torch_ms": ref["median_ms"], "torch_p90_ms": ref["p90_ms"],
            "ratio": tt["median_ms"] / ref["median_ms"], "target": TARGETS[case],
            "tinytorch_tracemalloc_mib": tracemalloc_peak_mib(tt_step),
            "tinytorch_rss": child_memory_mib(case, "tinytorch", args.threads),
            "torch_rss": child_memory_mib(case, "torch", args.threads),
        })
    return rows


def print_table(rows: list[dict], args) -> None:
    import numpy as np
    import torch

    print(f"threads={args.threads} (numpy OpenBLAS + torch.set_num_threads), median of {args.repeats} "
          f"steps after {args.warmup} warmup; numpy {np.__version__}, torch {torch.__version__}; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (other work inflates both)")
    print("| case | tinytorch ms (p90) | torch ms (p90) | ratio | target | met | step RSS MiB tt / torch "
          "| total RSS MiB tt / torch | tt tracemalloc MiB | first-loss diff |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        tt, ref = r["tinytorch_rss"], r["torch_rss"]
        print(f"| {r['title']} | {r['tinytorch_ms']:.2f} ({r['tinytorch_p90_ms']:.2f}) "
              f"| {r['torch_ms']:.2f} ({r['torch_p90_ms']:.2f}) | {r['ratio']:.2f}x | <= {r['target']:.0f}x "
              f"| {'yes' if r['ratio'] <= r['target'] else 'NO'} "
              f"| {tt['step_mib']:.1f} / {ref['step_mib']:.1f} "
              f"| {tt['total_mib']:.1f} / {ref['total_mib']:.1f} | {r['tinytorch_tracemalloc_mib']:.1f} "
              f"| {r['loss_diff']:.1e} |")


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.unset_openblas_env and REEXEC_MARK not in os.environ:
        print(f"re-executing with {', '.join(OPENBLAS_TUNING_VARS)} unset", flush=True)
        reexec_without_openblas_tuning()
    if REEXEC_MARK in os.environ and not args.memory_child:
        print(f"running with {', '.join(OPENBLAS_TUNING_VARS)} unset (before: {os.environ[REEXEC_MARK]})")
    pin_threads(args.threads)
    sys.path.insert(0, str(REPO_ROOT))
    if args.memory_child:
        memory_child(*args.memory_child)
        return 0
    print_table(run(args), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
