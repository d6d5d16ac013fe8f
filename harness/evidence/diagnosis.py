"""Failure diagnosis: which course component is most likely at fault when an extra did not pass.

Run only for an extra that failed, crashed, timed out or ran out of memory: the host draws small
secret inputs for every component the extra depends on (its criterion's ``requires`` modules,
mapped below), a second sandbox job (``extras/_diagnose.py``) runs each component of the student's
package on them and returns raw outputs and gradients, and this module compares them with numpy
(``numpy_ref``). The first faulty component is named with one sentence saying what it does wrong;
when every probed component agrees with numpy, the diagnosis says plainly that none could be
isolated. A component the package does not have is skipped, never blamed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import numpy_ref as ref

Arrays = dict[str, np.ndarray]
TOLERANCE = 1e-3  # relative error above which a component is called faulty (float32 gives ~1e-7)
SCRIPT = "_diagnose.py"

# status codes the sandbox records as ``diag.<component>.status``
RAN, ABSENT, RAISED = 0, 1, 2


def _u(rng: np.random.Generator, *shape: int, low: float = -1.0, high: float = 1.0) -> np.ndarray:
    return rng.uniform(low, high, shape).astype(np.float32)


def _away_from_zero(rng: np.random.Generator, *shape: int) -> np.ndarray:
    """Uniform in ±[0.1, 1.5]: ReLU's kink and MaxPool's ties are never hit."""
    return (rng.uniform(0.1, 1.5, shape) * rng.choice([-1.0, 1.0], shape)).astype(np.float32)


def _f(a: Arrays, *names: str) -> list[np.ndarray]:
    return [a[n].astype(np.float64) for n in names]


@dataclass(frozen=True)
class Expect:
    """What one recorded array should be: its reference and, for a sentence, what it should equal."""

    key: str  # the recorded name below ``diag.<component>.``
    reference: np.ndarray
    what: str  # "forward", "backward (input gradient)", ...
    formula: str  # "expected 1 − tanh²"


def _verdict(evidence: Arrays, prefix: str, expects: list[Expect], tolerance: float) -> str | None:
    """The first sentence of what is wrong, or None when every recorded array agrees."""
    for e in expects:
        actual = evidence.get(f"{prefix}{e.key}")
        is_grad = e.key.startswith("grad")
        if actual is None:
            if is_grad:
                return (f"{e.what} gives no gradient ({e.formula}): `.grad` was None after "
                        "`backward()` on a loss built from it")
            return f"{e.what} recorded no output (the probe stopped before it)"
        actual = np.asarray(actual, dtype=np.float64)
        if actual.size == e.reference.size and actual.shape != e.reference.shape:
            actual = actual.reshape(e.reference.shape)
        if actual.shape != e.reference.shape:
            return f"{e.what} has shape {actual.shape}, expected {e.reference.shape}"
        if not np.all(np.isfinite(actual)):
            bad = int(np.sum(~np.isfinite(actual)))
            plural = "s" if bad != 1 else ""
            return f"{e.what} holds {bad} NaN/inf value{plural} on finite inputs ({e.formula})"
        if is_grad and not np.any(actual) and np.any(np.abs(e.reference) > 1e-6):
            return f"{e.what} gives a zero gradient ({e.formula})"
        error = ref.relative_error(actual, e.reference)
        if error > tolerance:
            return f"{e.what} is off by {error:.2g} (relative) ({e.formula})"
    return None


@dataclass(frozen=True)
class Component:
    name: str  # the course's class or function name
    module: str  # where the course puts it (the sandbox reports where it found it)
    draw: Callable[[np.random.Generator], Arrays]
    expects: Callable[[Arrays], list[Expect]]
    tolerance: float = TOLERANCE


# --- Tensor ops, layers, activations ----------------------------------------------------------

def _draw_tensor(rng):
    n, k, m = (int(v) for v in rng.integers(2, 6, 3))
    return {"a": _u(rng, n, k), "b": _u(rng, k, m), "c": _u(rng, n, m), "g": _u(rng, n, m)}


def _tensor(a):
    x, w, c, g = _f(a, "a", "b", "c", "g")
    s = x @ w + c
    dy = g * c  # y = (a @ b + c) * c
    return [Expect("out", s * c, "forward of `(a.matmul(b) + c) * c`", "expected numpy's value"),
            Expect("grad.a", dy @ w.T, "backward of `matmul` (gradient of `a`)", "expected g·bᵀ"),
            Expect("grad.b", x.T @ dy, "backward of `matmul` (gradient of `b`)", "expected aᵀ·g"),
            Expect("grad.c", dy + g * s, "backward of `+`/`*` (gradient of `c`)",
                   "expected the product rule")]


def _draw_linear(rng):
    n, i, o = (int(v) for v in rng.integers([2, 2, 2], [6, 7, 7]))
    return {"x": _u(rng, n, i), "w": _u(rng, i, o), "b": _u(rng, o), "g": _u(rng, n, o)}


def _linear(a):
    x, w, b, g = _f(a, "x", "w", "b", "g")
    return [Expect("out", ref.linear(x, w, b), "forward", "expected x·W + b, W shaped (in, out)"),
            Expect("grad.w", x.T @ g, "backward (weight gradient)", "expected xᵀ·grad_output"),
            Expect("grad.b", g.sum(0), "backward (bias gradient)",
                   "expected grad_output summed over the batch"),
            Expect("grad.x", g @ w.T, "backward (input gradient)", "expected grad_output·Wᵀ")]


def _draw_elementwise(rng):
    n, d = (int(v) for v in rng.integers(2, 7, 2))
    return {"x": _away_from_zero(rng, n, d), "g": _u(rng, n, d)}


def _activation(forward, derivative, expected_forward, expected_backward):
    def expects(a):
        x, g = _f(a, "x", "g")
        return [Expect("out", forward(x), "forward", f"expected {expected_forward}"),
                Expect("grad.x", g * derivative(x), "backward", f"expected {expected_backward}")]
    return expects


def _gelu_forms(x):
    """The GELU forms a course package may use: the course's x·σ(1.702x), the tanh one, exact erf."""
    from math import erf, pi, sqrt
    s = ref.sigmoid(1.702 * x)
    inner = sqrt(2 / pi) * (x + 0.044715 * x ** 3)
    t = np.tanh(inner)
    phi = np.exp(-x * x / 2) / sqrt(2 * pi)
    cdf = 0.5 * (1 + np.vectorize(erf)(x / sqrt(2)))
    return {"x·σ(1.702x)": (x * s, s + 1.702 * x * s * (1 - s)),
            "the tanh approximation": (
                0.5 * x * (1 + t),
                0.5 * (1 + t) + 0.5 * x * (1 - t * t) * sqrt(2 / pi) * (1 + 3 * 0.044715 * x * x)),
            "x·Φ(x)": (x * cdf, cdf + x * phi)}


def _gelu(a):
    x, g = _f(a, "x", "g")
    recorded = a.get("__recorded_out")
    forms = _gelu_forms(x)
    name = "x·σ(1.702x)"
    if recorded is not None and recorded.size == x.size:
        name = min(forms, key=lambda k: ref.relative_error(recorded.reshape(x.shape), forms[k][0]))
    out, d = forms[name]
    return [Expect("out", out, "forward", f"expected GELU, e.g. {name}"),
            Expect("grad.x", g * d, "backward", f"expected the derivative of the forward's {name}")]


def _softmax(a):
    x, g = _f(a, "x", "g")
    p = np.exp(ref.log_softmax(x))
    return [Expect("out", p, "forward", "expected exp(x) / Σ exp(x) over the last axis"),
            Expect("grad.x", p * (g - (g * p).sum(-1, keepdims=True)), "backward",
                   "expected p·(g − Σ g·p)")]


# --- losses --------------------------------------------------------------------------------------

def _draw_mse(rng):
    n, d = (int(v) for v in rng.integers(2, 7, 2))
    return {"p": _u(rng, n, d), "t": _u(rng, n, d)}


def _mse(a):
    p, t = _f(a, "p", "t")
    return [Expect("out", np.array(np.mean((p - t) ** 2)), "forward", "expected mean((p − t)²)"),
            Expect("grad.p", 2 * (p - t) / p.size, "backward (gradient of the predictions)",
                   "expected 2·(p − t)/N")]


def _draw_bce(rng):
    n = int(rng.integers(3, 9))
    return {"p": _u(rng, n, 1, low=0.05, high=0.95), "t": (rng.random((n, 1)) > 0.5).astype(np.float32)}


def _bce(a):
    p, t = _f(a, "p", "t")
    return [Expect("out", np.array(ref.bce(p, t)), "forward", "expected −mean(t·log p + (1 − t)·log(1 − p))"),
            Expect("grad.p", (p - t) / (p * (1 - p)) / p.size, "backward (gradient of the predictions)",
                   "expected (p − t) / (p·(1 − p)·N)")]


def _draw_ce(rng):
    n, k = (int(v) for v in rng.integers([3, 2], [9, 7]))
    return {"z": _u(rng, n, k, low=-2, high=2), "ids": rng.integers(0, k, n)}


def _ce(a):
    z = a["z"].astype(np.float64)
    return [Expect("out", np.array(ref.cross_entropy(z, a["ids"])), "forward",
                   "expected mean −log softmax(z)[target]"),
            Expect("grad.z", ref.cross_entropy_grad(z, a["ids"]), "backward (gradient of the logits)",
                   "expected (softmax(z) − one_hot(target)) / N")]


# --- spatial -------------------------------------------------------------------------------------

def _draw_conv(rng):
    n, c, o = (int(v) for v in rng.integers([1, 1, 2], [3, 4, 4]))
    side = int(rng.integers(4, 7))
    return {"x": _u(rng, n, c, side, side), "w": _u(rng, o, c, 3, 3), "b": _u(rng, o),
            "g": _u(rng, n, o, side - 2, side - 2)}


def _conv(a):
    x, w, b, g = _f(a, "x", "w", "b", "g")
    gx = np.zeros_like(x)
    for i in range(3):
        for j in range(3):
            gx[:, :, i:i + g.shape[2], j:j + g.shape[3]] += np.einsum("nohw,oc->nchw", g, w[:, :, i, j])
    return [Expect("out", ref.conv2d(x, w, b), "forward",
                   "expected a valid cross-correlation, stride 1"),
            Expect("grad.w", ref.conv2d_weight_grad(x, g, (3, 3)), "backward (weight gradient)",
                   "expected the correlation of the input with grad_output"),
            Expect("grad.b", g.sum(axis=(0, 2, 3)), "backward (bias gradient)",
                   "expected grad_output summed"),
            Expect("grad.x", gx, "backward (input gradient)", "expected the full convolution of grad_output")]


def _draw_pool(rng):
    n, c = (int(v) for v in rng.integers([1, 1], [3, 4]))
    side = 2 * int(rng.integers(2, 4))
    size = n * c * side * side
    x = rng.permutation(size).reshape(n, c, side, side).astype(np.float32) / size  # no ties
    return {"x": x - 0.5, "g": _u(rng, n, c, side // 2, side // 2)}


def _pool(a):
    x, g = _f(a, "x", "g")
    return [Expect("out", ref.maxpool2d(x, 2), "forward", "expected the maximum of each 2×2 window"),
            Expect("grad.x", ref.maxpool2d_grad(x, 2, g), "backward",
                   "expected grad_output routed to each window's maximum only")]


# --- optimizers ----------------------------------------------------------------------------------

def _draw_opt(rng):
    n = int(rng.integers(3, 8))
    return {"p": _u(rng, n), "g1": _u(rng, n), "g2": _u(rng, n), "lr": np.array(rng.uniform(0.01, 0.1))}


def _sgd(a):
    p, g1, g2 = _f(a, "p", "g1", "g2")
    lr = float(a["lr"])
    after1 = p - lr * g1
    return [Expect("after1", after1, "`step()` (first)", "expected p − lr·grad"),
            Expect("after2", after1 - lr * g2, "`step()` (second)", "expected p − lr·grad")]


def _adam(a):
    p, g1, g2 = _f(a, "p", "g1", "g2")
    lr, b1, b2, eps = float(a["lr"]), 0.9, 0.999, 1e-8
    m = v = 0.0
    out = []
    for t, g in ((1, g1), (2, g2)):
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        p = p - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
        out.append(Expect(f"after{t}", p, f"`step()` ({'first' if t == 1 else 'second'})",
                          "expected p − lr·m̂/(√v̂ + ε) with bias-corrected moments, betas (0.9, 0.999)"))
    return out


# --- attention, LayerNorm, Embedding -------------------------------------------------------------

def _draw_attention(rng):
    b, s, d = int(rng.integers(1, 3)), int(rng.integers(4, 7)), int(rng.integers(2, 6))
    cut = int(rng.integers(1, s))
    q, k, v = _u(rng, b, s, d), _u(rng, b, s, d), _u(rng, b, s, d)
    k2, v2 = k.copy(), v.copy()
    k2[:, cut:], v2[:, cut:] = _u(rng, b, s - cut, d), _u(rng, b, s - cut, d)
    return {"q": q, "k": k, "v": v, "k2": k2, "v2": v2, "cut": np.array(cut)}


def _attention(a):
    q, k, v = _f(a, "q", "k", "v")
    def attend(scores):
        w = np.exp(scores - scores.max(-1, keepdims=True))
        return (w / w.sum(-1, keepdims=True)) @ v

    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    future = np.triu(np.ones(scores.shape[-2:], dtype=bool), 1)
    return [Expect("out", attend(scores), "forward without a mask", "expected softmax(Q·Kᵀ/√d)·V"),
            Expect("masked", attend(np.where(future, -np.inf, scores)),
                   "forward with the package's causal mask",
                   "expected softmax over each position and the ones before it; a mask of the other "
                   "convention (0 = attend, -inf = masked, or the reverse) gives a uniform average")]


def _draw_mha(rng):
    b, s = int(rng.integers(1, 3)), int(rng.integers(4, 7))
    heads = int(rng.integers(1, 3))
    d = heads * int(rng.integers(2, 4))
    cut = int(rng.integers(1, s))
    x = _u(rng, b, s, d)
    x2 = x.copy()
    x2[:, cut:] = _u(rng, b, s - cut, d)
    return {"x": x, "x2": x2, "heads": np.array(heads), "cut": np.array(cut)}


def _mha(a):
    return []  # its projections are the package's own: only causality is judged (``_causality``)


def _draw_layernorm(rng):
    n, d = int(rng.integers(2, 6)), int(rng.integers(3, 8))
    return {"x": _u(rng, n, d, low=-2, high=2), "gamma": _u(rng, d, low=0.5, high=1.5), "beta": _u(rng, d),
            "g": _u(rng, n, d)}


def _layernorm(a):
    x, gamma, beta, g = _f(a, "x", "gamma", "beta", "g")
    mu = x.mean(-1, keepdims=True)
    inv = 1 / np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + 1e-5)
    xh = (x - mu) * inv
    gh = g * gamma
    gx = inv * (gh - gh.mean(-1, keepdims=True) - xh * (gh * xh).mean(-1, keepdims=True))
    return [Expect("out", xh * gamma + beta, "forward", "expected γ·(x − mean)/√(var + ε) + β"),
            Expect("grad.x", gx, "backward (input gradient)",
                   "expected the gradient through the mean and the variance too")]


def _draw_embedding(rng):
    vocab, d, n = int(rng.integers(5, 12)), int(rng.integers(2, 6)), int(rng.integers(4, 10))
    ids = rng.integers(0, vocab, n)
    ids[-1] = ids[0]  # a repeated id: its gradients must add up
    return {"w": _u(rng, vocab, d), "ids": ids, "g": _u(rng, n, d)}


def _embedding(a):
    w, g = _f(a, "w", "g")
    grad = np.zeros_like(w)
    np.add.at(grad, a["ids"], g)
    return [Expect("out", w[a["ids"]], "forward", "expected the rows of the table at the ids"),
            Expect("grad.w", grad, "backward (table gradient)",
                   "expected grad_output added into each id's row, repeated ids summed")]


COMPONENTS: dict[str, Component] = {c.name: c for c in (
    Component("Tensor", "tinytorch.core.tensor", _draw_tensor, _tensor),
    Component("Linear", "tinytorch.core.layers", _draw_linear, _linear),
    Component("ReLU", "tinytorch.core.activations", _draw_elementwise,
              _activation(lambda x: np.maximum(x, 0), lambda x: (x > 0) * 1.0, "max(x, 0)",
                          "grad_output where x > 0, else 0")),
    Component("Sigmoid", "tinytorch.core.activations", _draw_elementwise,
              _activation(ref.sigmoid, lambda x: ref.sigmoid(x) * (1 - ref.sigmoid(x)), "1/(1 + e^−x)",
                          "σ·(1 − σ)")),
    Component("Tanh", "tinytorch.core.activations", _draw_elementwise,
              _activation(np.tanh, lambda x: 1 - np.tanh(x) ** 2, "tanh(x)", "1 − tanh²")),
    Component("GELU", "tinytorch.core.activations", _draw_elementwise, _gelu, tolerance=3e-2),
    Component("Softmax", "tinytorch.core.activations", _draw_elementwise, _softmax),
    Component("MSELoss", "tinytorch.core.losses", _draw_mse, _mse),
    Component("BinaryCrossEntropyLoss", "tinytorch.core.losses", _draw_bce, _bce),
    Component("CrossEntropyLoss", "tinytorch.core.losses", _draw_ce, _ce),
    Component("Conv2d", "tinytorch.core.spatial", _draw_conv, _conv),
    Component("MaxPool2d", "tinytorch.core.spatial", _draw_pool, _pool),
    Component("scaled_dot_product_attention", "tinytorch.core.attention", _draw_attention, _attention),
    Component("MultiHeadAttention", "tinytorch.core.attention", _draw_mha, _mha),
    Component("LayerNorm", "tinytorch.core.transformer", _draw_layernorm, _layernorm),
    Component("Embedding", "tinytorch.core.embeddings", _draw_embedding, _embedding),
    Component("SGD", "tinytorch.core.optimizers", _draw_opt, _sgd),
    Component("Adam", "tinytorch.core.optimizers", _draw_opt, _adam),
)}

# A criterion's ``requires`` module (last dotted part) -> the components it stands for, in the
# order they are blamed (what everything else builds on first).
_GPT_PARTS = ("Tensor", "Linear", "GELU", "Softmax", "CrossEntropyLoss", "scaled_dot_product_attention",
              "MultiHeadAttention", "LayerNorm", "Embedding", "Adam")
MODULE_COMPONENTS: dict[str, tuple[str, ...]] = {
    "tensor": ("Tensor",),
    "autograd": ("Tensor",),
    "layers": ("Linear",),
    "activations": ("ReLU", "Sigmoid", "Tanh", "GELU", "Softmax"),
    "losses": ("MSELoss", "BinaryCrossEntropyLoss", "CrossEntropyLoss"),
    "spatial": ("Conv2d", "MaxPool2d"),
    "attention": ("scaled_dot_product_attention", "MultiHeadAttention"),
    "transformer": _GPT_PARTS,
    "transformers": _GPT_PARTS,
    "embeddings": ("Embedding",),
    "optimizers": ("SGD", "Adam"),
}
ORDER = tuple(COMPONENTS)


def components_for(requires: list[str]) -> list[str]:
    """The components behind a criterion's ``requires`` modules (``a|b`` = either), in blame order."""
    wanted = set()
    for entry in requires:
        for module in entry.split("|"):
            wanted.update(MODULE_COMPONENTS.get(module.rsplit(".", 1)[-1], ()))
    return [name for name in ORDER if name in wanted]


# Modules whose classes build their own parts: an extra using the course's GPT uses its attention,
# LayerNorm and Embedding without naming them.
BUILDS_ITS_OWN = ("transformer", "transformers")


def used_by(script_text: str, names: list[str], requires: list[str] = ()) -> set[str]:
    """The components an extra uses: those its script (and the helpers it builds models with) names,
    ``Tensor`` always (everything is built on it), and every part of a model the package builds
    itself (the transformer's)."""
    built = {c for entry in requires for module in entry.split("|")
             if module.rsplit(".", 1)[-1] in BUILDS_ITS_OWN
             for c in MODULE_COMPONENTS[module.rsplit(".", 1)[-1]]}
    return {n for n in names
            if n == "Tensor" or n in built or re.search(rf"\b{re.escape(n)}\b", script_text)}


def prepare(rng: np.random.Generator, names: list[str]) -> tuple[Arrays, dict[str, Arrays]]:
    """(public arrays for the sandbox, keyed ``diag.<component>.<input>``; each component's inputs)."""
    drawn = {name: COMPONENTS[name].draw(rng) for name in names}
    public = {f"diag.{name}.{key}": value for name, arrays in drawn.items() for key, value in arrays.items()}
    return public, drawn


def _text(array: np.ndarray | None, limit: int = 200) -> str:
    """A message the sandbox recorded as UTF-8 bytes (printable, shortened)."""
    if array is None:
        return ""
    raw = np.asarray(array).astype(np.uint8, copy=False).tobytes()[:limit * 4]
    text = raw.decode("utf-8", errors="replace")
    text = "".join(ch if ch.isprintable() else "\ufffd" for ch in text)
    return text[:limit]


def _causality(evidence: Arrays, prefix: str, inputs: Arrays) -> str | None:
    cut = int(inputs["cut"])
    a, b = evidence.get(prefix + "masked"), evidence.get(prefix + "masked_changed")
    if a is None or b is None:
        return "with a causal mask recorded no output (the probe stopped before it)"
    if a.shape != b.shape or a.ndim < 2:
        return f"with a causal mask gives outputs of shapes {a.shape} and {b.shape} for the same input shape"
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return "with a causal mask holds NaN/inf on finite inputs (a mask of -inf times 0?)"
    before_a, before_b = a[..., :cut, :], b[..., :cut, :]
    error = ref.relative_error(before_b, before_a)
    if error > TOLERANCE:
        return (f"is not causal: with the causal mask, changing positions {cut} and later changes the "
                f"outputs of earlier positions (relative change {error:.2g}; expected none)")
    return None


@dataclass(frozen=True)
class Finding:
    name: str
    module: str
    status: str  # "ok", "faulty", "skipped", "error"
    sentence: str = ""

    @property
    def qualified(self) -> str:
        return f"`{self.module}.{self.name}`"


def judge_component(name: str, inputs: Arrays, evidence: Arrays) -> Finding:
    comp, prefix = COMPONENTS[name], f"diag.{name}."
    module = _text(evidence.get(prefix + "module"), 80) or comp.module
    if not re.fullmatch(r"tinytorch(\.[A-Za-z0-9_]+)+", module):
        module = comp.module
    status = evidence.get(prefix + "status")
    if status is None:
        return Finding(name, module, "error", "was not probed (the diagnosis run stopped before it)")
    code = int(np.asarray(status).reshape(-1)[0])
    message = _text(evidence.get(prefix + "error"))
    if code == ABSENT:
        return Finding(name, module, "skipped", message or "not in the package")
    if code == RAISED:
        return Finding(name, module, "faulty", f"raised {message or 'an exception'} on the grader's "
                                              "small inputs")
    extra = dict(inputs)
    if prefix + "out" in evidence:
        extra["__recorded_out"] = evidence[prefix + "out"]
    sentence = _verdict(evidence, prefix, comp.expects(extra), comp.tolerance)
    if sentence is None and "cut" in inputs:
        sentence = _causality(evidence, prefix, inputs)
    return Finding(name, module, "faulty" if sentence else "ok", sentence or "")


@dataclass(frozen=True)
class Diagnosis:
    component: str | None  # "tinytorch.core.activations.Tanh", or None when none could be isolated
    summary: str
    findings: tuple[Finding, ...]


def judge(names: list[str], drawn: dict[str, Arrays], evidence: Arrays, used: set[str]) -> Diagnosis:
    """The diagnosis of one failed extra from the diagnosis run's evidence."""
    findings = tuple(judge_component(n, drawn[n], evidence) for n in names)
    faulty = [f for f in findings if f.status == "faulty"]
    blamed = next((f for f in faulty if f.name in used), None)
    skipped = [f.name for f in findings if f.status == "skipped"]
    unprobed = [f.name for f in findings if f.status == "error"]
    tail = []
    others = [f for f in faulty if f is not blamed]
    if others:
        tail.append("also faulty: " + "; ".join(
            f"{f.qualified} {f.sentence}" + ("" if f.name in used else " (not used by this extra)")
            for f in others))
    if skipped:
        tail.append(f"not in the package, skipped: {', '.join(skipped)}")
    if unprobed:
        tail.append(f"not probed: {', '.join(unprobed)}")
    suffix = ("; " + "; ".join(tail)) if tail else ""
    if blamed is not None:
        summary = f"{blamed.qualified}: {blamed.sentence}"
        return Diagnosis(f"{blamed.module}.{blamed.name}", summary + suffix, findings)
    probed = [f.name for f in findings if f.status == "ok"]
    if probed:
        summary = ("no single component could be isolated: " + ", ".join(probed) + " agree with numpy on "
                   "the grader's small inputs, so look at how the extra combines them (shapes, which "
                   "parameters reach the optimizer, training settings) and at the failing checks")
    else:
        summary = "no single component could be isolated: no component of this extra could be probed"
    return Diagnosis(None, summary + suffix, findings)


def unavailable(why: str) -> Diagnosis:
    """A diagnosis that could not run (its sandbox job crashed, timed out...), saying why."""
    return Diagnosis(None, f"no single component could be isolated: {why}", ())
