"""The course-style package in tests/fixtures/course_tinytorch computes what it should.

That package is a second, independent `tinytorch` written the way a faithful student of the
course writes it (course import paths and signatures, autograd by patching, numpy gradients,
loop-based convolution, KV cache by patching). It must never meet the reference `tinytorch` of
this repository, so everything that imports it runs in ONE subprocess: this file, run as
``python test_course_fixture.py --probe`` with PYTHONPATH set to the fixture, prints a JSON dict of
measurements (errors against numpy / finite differences / formulas); the tests assert on them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import traceback
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
FIXTURE = HERE.parents[1] / "fixtures" / "course_tinytorch"

# ----------------------------------------------------------------------------------------------
# Probe side (runs in the subprocess, imports the fixture's tinytorch)
# ----------------------------------------------------------------------------------------------


def _t(a, grad=False):
    from tinytorch.core.tensor import Tensor
    return Tensor(np.asarray(a, dtype=np.float32), requires_grad=grad)


def _rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / (np.max(np.abs(b)) + 1e-12)) if b.size else 0.0


def _grad_error(f, tensors, eps=1e-2, samples=24, seed=0):
    """Worst |numeric - analytic| / max|numeric| over sampled elements of each tensor's gradient.

    f() builds the output from the (requires_grad) tensors; the output is projected onto a fixed
    random array R, analytic gradients come from out.backward(R), numeric ones from central
    differences of sum(f().data * R) with each element nudged in place.
    """
    rng = np.random.default_rng(seed)
    out = f()
    proj = rng.standard_normal(out.data.shape).astype(np.float32)
    for t in tensors:
        t.grad = None
    out.backward(proj)
    worst = 0.0
    for t in tensors:
        assert isinstance(t.grad, np.ndarray), f"grad is {type(t.grad).__name__}, expected ndarray"
        flat = t.data.reshape(-1)
        picks = rng.choice(flat.size, size=min(samples, flat.size), replace=False)
        numeric, analytic = [], []
        for k in picks:
            original = float(flat[k])
            values, points = [], []
            for step in (eps, -eps):
                flat[k] = original + step
                points.append(float(flat[k]))
                values.append(float(np.sum(f().data.astype(np.float64) * proj)))
            flat[k] = original
            numeric.append((values[0] - values[1]) / (points[0] - points[1]))
            analytic.append(float(t.grad.reshape(-1)[k]))
        numeric, analytic = np.array(numeric), np.array(analytic)
        worst = max(worst, float(np.max(np.abs(numeric - analytic)) / (np.max(np.abs(numeric)) + 1e-6)))
    return worst


def _np_conv(x, w, b, stride, pad):
    x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    n, _, h, wd = x.shape
    o, _, kh, kw = w.shape
    oh, ow = (h - kh) // stride + 1, (wd - kw) // stride + 1
    out = np.zeros((n, o, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            out[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3]))
    return out + b.reshape(1, -1, 1, 1)


def _np_pool(x, k, stride, pad, fn, fill):
    x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=fill)
    oh, ow = (x.shape[2] - k) // stride + 1, (x.shape[3] - k) // stride + 1
    out = np.zeros(x.shape[:2] + (oh, ow))
    for i in range(oh):
        for j in range(ow):
            out[:, :, i, j] = fn(x[:, :, i * stride:i * stride + k, j * stride:j * stride + k], axis=(2, 3))
    return out


def _separated(shape, rng, gap=0.05):
    """Distinct values in random order, pairwise at least 2*gap apart and at least gap away from 0."""
    n = int(np.prod(shape))
    return (rng.permutation(n) - n / 2 + 0.5).reshape(shape) * 2 * gap


def probe_api():
    import inspect

    import tinytorch
    from tinytorch.core import autograd, spatial, transformer
    from tinytorch.perf import compression, memoization, profiling
    modules = {
        "tinytorch.core.tensor": ["Tensor"],
        "tinytorch.core.activations": ["Sigmoid", "ReLU", "Tanh", "GELU", "Softmax"],
        "tinytorch.core.layers": ["Layer", "Linear", "Dropout"],
        "tinytorch.core.losses": ["MSELoss", "CrossEntropyLoss", "BinaryCrossEntropyLoss", "log_softmax"],
        "tinytorch.core.autograd": ["Function", "enable_autograd", "AddBackward", "EmbeddingBackward"],
        "tinytorch.core.optimizers": ["Optimizer", "SGD", "Adam", "AdamW"],
        "tinytorch.core.training": ["Trainer", "CosineSchedule", "clip_grad_norm"],
        "tinytorch.core.dataloader": ["Dataset", "TensorDataset", "DataLoader", "Compose",
                                      "RandomHorizontalFlip", "RandomCrop"],
        "tinytorch.core.spatial": ["Conv2d", "MaxPool2d", "AvgPool2d", "BatchNorm2d", "SimpleCNN"],
        "tinytorch.core.tokenization": ["Tokenizer", "CharTokenizer", "BPETokenizer"],
        "tinytorch.core.embeddings": ["Embedding", "PositionalEncoding", "EmbeddingLayer",
                                      "create_sinusoidal_embeddings"],
        "tinytorch.core.attention": ["scaled_dot_product_attention", "MultiHeadAttention"],
        "tinytorch.core.transformer": ["create_causal_mask", "LayerNorm", "MLP", "TransformerBlock", "GPT"],
        "tinytorch.perf.profiling": ["Profiler", "quick_profile", "analyze_weight_distribution"],
        "tinytorch.perf.quantization": ["QuantizedLinear", "Quantizer", "quantize_int8", "dequantize_int8",
                                        "quantize_model", "compare_model_sizes"],
        "tinytorch.perf.compression": ["magnitude_prune", "structured_prune", "low_rank_approximate",
                                       "measure_sparsity", "compress_model", "KnowledgeDistillation"],
        "tinytorch.perf.memoization": ["KVCache", "create_kv_cache", "enable_kv_cache", "disable_kv_cache"],
        "tinytorch.perf.acceleration": ["vectorized_matmul", "fused_gelu", "tiled_matmul"],
        "tinytorch.bench": ["Benchmark", "BenchmarkResult", "BenchmarkSuite", "TinyMLPerf", "OlympicEvent"],
        "tinytorch.capstone": ["SimpleMLP", "BenchmarkReport", "generate_submission", "save_submission"],
    }
    import importlib
    missing = [f"{m}.{n}" for m, names in modules.items() for n in names
               if not hasattr(importlib.import_module(m), n)]

    def params(fn):
        return [(p.name, p.default if p.default is not p.empty else None)
                for p in inspect.signature(fn).parameters.values() if p.name != "self"]

    return {
        "file": tinytorch.__file__,
        "missing": missing,
        "no_grad_anywhere": any(hasattr(importlib.import_module(m), "no_grad") for m in modules),
        "autograd_enabled": bool(getattr(tinytorch.Tensor, "_autograd_enabled", False)),
        "gpt_forward": params(transformer.GPT.forward),
        "gpt_generate": params(transformer.GPT.generate),
        "conv2d_init": params(spatial.Conv2d.__init__),
        "measure_memory": params(profiling.Profiler.measure_memory),
        "count_flops": params(profiling.Profiler.count_flops),
        "low_rank": params(compression.low_rank_approximate),
        "enable_kv_cache": params(memoization.enable_kv_cache),
        "enable_autograd": params(autograd.enable_autograd),
    }


def probe_conventions():
    from tinytorch.core.layers import Linear
    from tinytorch.core.spatial import Conv2d
    np.random.seed(7)
    lin = Linear(5, 3)
    np.random.seed(7)
    expected = (np.random.randn(5, 3) * np.sqrt(1 / 5)).astype(np.float32)
    conv = Conv2d(2, 4, 3)
    x = _t(np.ones((2, 5)), grad=True)
    out = lin(x)
    loss = out.sum()
    loss.backward()
    import tinytorch
    from tinytorch.core.tensor import Tensor
    plain = _t([[1.0, 2.0], [3.0, 4.0]], grad=True)
    return {
        "absent_tensor_extras": [n for n in ("__neg__", "__radd__", "__rmul__", "__rsub__", "__pow__", "T",
                                             "item", "flatten", "permute") if hasattr(Tensor, n)],
        "has_sequential": hasattr(tinytorch, "Sequential"),
        "mean_records_graph": bool(plain.mean().requires_grad),
        "max_records_graph": bool(plain.max().requires_grad),
        "sum_records_graph": bool(plain.sum().requires_grad),
        "linear_weight_shape": list(lin.weight.shape),
        "conv_weight_shape": list(conv.weight.shape),
        "linear_init_is_global_randn": bool(np.array_equal(lin.weight.data, expected)),
        "data_dtype": str(out.data.dtype),
        "grad_type": type(lin.weight.grad).__name__,
        "grad_dtype": str(lin.weight.grad.dtype),
        "intermediate_has_grad": out.grad is not None,
    }


def probe_forward():
    from tinytorch.core.activations import GELU, ReLU, Sigmoid, Softmax, Tanh
    from tinytorch.core.layers import Linear
    from tinytorch.core.losses import BinaryCrossEntropyLoss, CrossEntropyLoss, MSELoss
    from tinytorch.core.spatial import AvgPool2d, Conv2d, MaxPool2d
    from tinytorch.core.transformer import LayerNorm
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4, 9, 8))
    err = {}
    for stride, pad in ((1, 0), (2, 1)):
        conv = Conv2d(4, 5, 3, stride=stride, padding=pad)
        ref = _np_conv(x, conv.weight.data, conv.bias.data + 0.3, stride, pad)
        conv.bias.data += 0.3
        err[f"conv_s{stride}_p{pad}"] = _rel(conv(_t(x)).data, ref)
        err[f"maxpool_s{stride}_p{pad}"] = _rel(MaxPool2d(3, stride=stride, padding=pad)(_t(x)).data,
                                                _np_pool(x, 3, stride, pad, np.max, -np.inf))
        err[f"avgpool_s{stride}_p{pad}"] = _rel(AvgPool2d(3, stride=stride, padding=pad)(_t(x)).data,
                                                _np_pool(x, 3, stride, pad, np.mean, 0.0))
    rect = Conv2d(4, 2, (2, 3))
    err["conv_rect_kernel"] = _rel(rect(_t(x)).data, _np_conv(x, rect.weight.data, rect.bias.data, 1, 0))
    lin = Linear(6, 4)
    a = rng.standard_normal((5, 6))
    err["linear"] = _rel(lin(_t(a)).data, a @ lin.weight.data + lin.bias.data)
    a3 = rng.standard_normal((2, 5, 6))
    err["linear_3d"] = _rel(lin(_t(a3)).data, a3 @ lin.weight.data + lin.bias.data)
    z = rng.standard_normal((4, 7)) * 3
    sig = 1 / (1 + np.exp(-z))
    err["relu"] = _rel(ReLU()(_t(z)).data, np.maximum(z, 0))
    err["sigmoid"] = _rel(Sigmoid()(_t(z)).data, sig)
    err["tanh"] = _rel(Tanh()(_t(z)).data, np.tanh(z))
    err["gelu"] = _rel(GELU()(_t(z)).data, z / (1 + np.exp(-1.702 * z)))
    e = np.exp(z - z.max(axis=0, keepdims=True))
    err["softmax_dim0"] = _rel(Softmax()(_t(z), dim=0).data, e / e.sum(axis=0, keepdims=True))
    y = rng.integers(0, 7, size=4)
    logp = z - z.max(axis=1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(axis=1, keepdims=True))
    err["cross_entropy"] = _rel(CrossEntropyLoss()(_t(z), _t(y)).data, -logp[np.arange(4), y].mean())
    t = rng.standard_normal((4, 7))
    err["mse"] = _rel(MSELoss()(_t(z), _t(t)).data, ((z - t) ** 2).mean())
    yb = rng.integers(0, 2, size=(4, 7)).astype(float)
    err["bce"] = _rel(BinaryCrossEntropyLoss()(_t(sig), _t(yb)).data,
                      -(yb * np.log(sig) + (1 - yb) * np.log(1 - sig)).mean())
    ln = LayerNorm(7)
    mu, var = z.mean(axis=-1, keepdims=True), z.var(axis=-1, keepdims=True)
    err["layernorm"] = _rel(ln(_t(z)).data, (z - mu) / np.sqrt(var + 1e-5))
    return err


def probe_attention():
    from tinytorch.core.attention import MultiHeadAttention, scaled_dot_product_attention
    from tinytorch.core.transformer import GPT, create_causal_mask
    rng = np.random.default_rng(2)
    q, k, v = (rng.standard_normal((2, 3, 5, 4)) for _ in range(3))
    mask = create_causal_mask(5)
    out, weights = scaled_dot_product_attention(_t(q), _t(k), _t(v), mask=mask)
    s = q @ k.transpose(0, 1, 3, 2) / 2.0
    s = np.where(np.tril(np.ones((5, 5))) > 0, s, -np.inf)
    w = np.exp(s - s.max(axis=-1, keepdims=True))
    w /= w.sum(axis=-1, keepdims=True)
    mha = MultiHeadAttention(8, 2)
    x = rng.standard_normal((2, 5, 8))
    got = mha(_t(x), mask).data
    heads = [xp.reshape(2, 5, 2, 4).transpose(0, 2, 1, 3)
             for xp in (x @ p.weight.data + p.bias.data for p in (mha.q_proj, mha.k_proj, mha.v_proj))]
    s2 = heads[0] @ heads[1].transpose(0, 1, 3, 2) / 2.0
    s2 = np.where(np.tril(np.ones((5, 5))) > 0, s2, -np.inf)
    w2 = np.exp(s2 - s2.max(axis=-1, keepdims=True))
    w2 /= w2.sum(axis=-1, keepdims=True)
    merged = (w2 @ heads[2]).transpose(0, 2, 1, 3).reshape(2, 5, 8)
    ref = merged @ mha.out_proj.weight.data + mha.out_proj.bias.data
    np.random.seed(3)
    gpt = GPT(vocab_size=13, embed_dim=16, num_layers=2, num_heads=2, max_seq_len=12)
    toks = np.random.randint(0, 13, size=(1, 9))
    changed = toks.copy()
    changed[0, 6:] = (changed[0, 6:] + 1) % 13
    a, b = gpt.forward(_t(toks)).data, gpt.forward(_t(changed)).data
    return {
        "mask_values": create_causal_mask(4).data.tolist(),
        "sdpa_output": _rel(out.data, w @ v),
        "sdpa_weights": _rel(weights.data, w),
        "future_weight_max": float(np.max(weights.data * (1 - np.tril(np.ones((5, 5)))))),
        "mha": _rel(got, ref),
        "gpt_causal_prefix_change": float(np.max(np.abs(a[0, :6] - b[0, :6]))),
        "gpt_suffix_changes": float(np.max(np.abs(a[0, 6:] - b[0, 6:]))),
        "gpt_attention_content_sensitive": _attention_is_content_sensitive(),
    }


def _attention_is_content_sensitive():
    """Inside a GPT block, the attention pattern depends on the scores (not a uniform average)."""
    from tinytorch.core.attention import scaled_dot_product_attention
    from tinytorch.core.transformer import GPT
    np.random.seed(5)
    gpt = GPT(vocab_size=7, embed_dim=8, num_layers=1, num_heads=1, max_seq_len=6)
    seen = []
    import tinytorch.core.attention as attention_module
    original = attention_module.scaled_dot_product_attention

    def spy(Q, K, V, mask=None):
        out, w = original(Q, K, V, mask)
        seen.append(w.data.copy())
        return out, w

    attention_module.scaled_dot_product_attention = spy
    try:
        gpt.forward(_t([[1, 2, 3, 4, 5]]))
    finally:
        attention_module.scaled_dot_product_attention = scaled_dot_product_attention
    last_row = seen[0][0, 0, -1]
    return float(np.std(last_row))


def probe_gradients():
    from tinytorch.core.activations import GELU, ReLU, Sigmoid, Softmax, Tanh
    from tinytorch.core.attention import MultiHeadAttention
    from tinytorch.core.embeddings import Embedding, PositionalEncoding
    from tinytorch.core.layers import Dropout, Linear
    from tinytorch.core.losses import BinaryCrossEntropyLoss, CrossEntropyLoss, MSELoss
    from tinytorch.core.spatial import AvgPool2d, BatchNorm2d, Conv2d, MaxPool2d
    from tinytorch.core.transformer import GPT, LayerNorm, TransformerBlock, create_causal_mask
    rng = np.random.default_rng(3)

    def T(shape, scale=1.0):
        return _t(rng.standard_normal(shape) * scale, grad=True)

    errs = {}
    a, b, row = T((3, 4)), T((3, 4)), T((4,))
    pos = _t(rng.uniform(0.5, 2.0, (3, 4)), grad=True)
    errs["add_broadcast"] = _grad_error(lambda: a + row, [a, row])
    errs["sub_broadcast"] = _grad_error(lambda: a - row, [a, row])
    errs["mul"] = _grad_error(lambda: a * b, [a, b])
    errs["mul_scalar"] = _grad_error(lambda: a * 2.5, [a])
    errs["shared_input_diamond"] = _grad_error(lambda: (a * a + Sigmoid()(a * b)) * a - a / pos, [a, b])
    errs["div"] = _grad_error(lambda: a / pos, [a, pos])
    m1, m2, m3 = T((3, 4)), T((4, 5)), T((2, 3, 4))
    v4 = T((4,))
    errs["matmul_2d"] = _grad_error(lambda: m1.matmul(m2), [m1, m2])
    errs["matmul_batched_x_2d"] = _grad_error(lambda: m3 @ m2, [m3, m2])
    errs["matmul_vector"] = _grad_error(lambda: m1 @ v4, [m1, v4])
    t4 = T((2, 3, 4, 5))
    errs["transpose"] = _grad_error(lambda: t4.transpose(1, 2), [t4])
    errs["transpose_default"] = _grad_error(lambda: m3.transpose(), [m3])
    errs["reshape"] = _grad_error(lambda: t4.reshape(6, -1), [t4])
    errs["getitem_slice"] = _grad_error(lambda: t4[:, 1:, ::2], [t4])
    errs["getitem_repeated"] = _grad_error(lambda: m1[np.array([0, 2, 0, 0])], [m1])
    errs["sum_all"] = _grad_error(lambda: t4.sum(), [t4])
    errs["sum_axis"] = _grad_error(lambda: t4.sum(axis=2), [t4])
    errs["sum_axis_keepdims"] = _grad_error(lambda: t4.sum(axis=(1, 3), keepdims=True), [t4])
    sep = _t(_separated((4, 6), rng), grad=True)
    errs["relu"] = _grad_error(lambda: ReLU()(sep), [sep])
    errs["sigmoid"] = _grad_error(lambda: Sigmoid()(a), [a])
    errs["tanh"] = _grad_error(lambda: Tanh()(a), [a])
    errs["gelu"] = _grad_error(lambda: GELU()(a), [a])
    errs["softmax"] = _grad_error(lambda: Softmax()(t4, dim=-1), [t4])
    errs["softmax_dim1"] = _grad_error(lambda: Softmax()(t4, dim=1), [t4])
    targets = _t(rng.standard_normal((3, 4)))
    errs["mse"] = _grad_error(lambda: MSELoss()(a, targets), [a])
    labels = _t(rng.integers(0, 4, size=3))
    errs["cross_entropy"] = _grad_error(lambda: CrossEntropyLoss()(a, labels), [a])
    probs = _t(rng.uniform(0.1, 0.9, (3, 4)), grad=True)
    bits = _t(rng.integers(0, 2, (3, 4)))
    errs["bce"] = _grad_error(lambda: BinaryCrossEntropyLoss()(probs, bits), [probs], eps=1e-3)
    lin = Linear(4, 3)
    errs["linear"] = _grad_error(lambda: lin(m3), [m3, lin.weight, lin.bias])
    drop = Dropout(0.3)

    def dropped():
        np.random.seed(11)
        return drop(a)
    errs["dropout"] = _grad_error(dropped, [a])
    img = T((2, 3, 7, 6))
    for stride, pad in ((1, 0), (2, 1)):
        conv = Conv2d(3, 4, 3, stride=stride, padding=pad)
        conv.bias.data += rng.standard_normal(4).astype(np.float32)
        errs[f"conv2d_s{stride}_p{pad}"] = _grad_error(lambda c=conv: c(img), [img, conv.weight, conv.bias])
    sep_img = _t(_separated((2, 3, 6, 6), rng), grad=True)
    errs["maxpool2d"] = _grad_error(lambda: MaxPool2d(2)(sep_img), [sep_img])
    errs["maxpool2d_overlap_pad"] = _grad_error(lambda: MaxPool2d(3, stride=2, padding=1)(sep_img), [sep_img])
    errs["avgpool2d"] = _grad_error(lambda: AvgPool2d(2)(img), [img])
    errs["avgpool2d_overlap_pad"] = _grad_error(lambda: AvgPool2d(3, stride=2, padding=1)(img), [img])
    bn = BatchNorm2d(3)
    bn.gamma.data[:] = rng.uniform(0.5, 1.5, 3)
    bn.beta.data[:] = rng.standard_normal(3)
    errs["batchnorm2d"] = _grad_error(lambda: bn(img), [img, bn.gamma, bn.beta])
    seq = T((2, 5, 8))
    ln = LayerNorm(8)
    ln.gamma.data[:] = rng.uniform(0.5, 1.5, 8)
    errs["layernorm"] = _grad_error(lambda: ln(seq), [seq, ln.gamma, ln.beta])
    emb = Embedding(6, 4)
    ids = _t([[0, 3, 3], [5, 0, 1]])
    errs["embedding"] = _grad_error(lambda: emb(ids), [emb.weight])
    pe = PositionalEncoding(7, 8)
    errs["positional_encoding"] = _grad_error(lambda: pe(seq), [seq, pe.position_embeddings])
    mha = MultiHeadAttention(8, 2)
    mask = create_causal_mask(5)
    errs["multihead_attention"] = _grad_error(
        lambda: mha(seq, mask), [seq, mha.q_proj.weight, mha.k_proj.weight, mha.v_proj.weight,
                                 mha.out_proj.bias])
    block = TransformerBlock(8, 2)
    errs["transformer_block"] = _grad_error(
        lambda: block(seq, mask),
        [seq, block.ln1.gamma, block.mlp.linear1.weight, block.attention.q_proj.weight])
    np.random.seed(4)
    gpt = GPT(vocab_size=11, embed_dim=8, num_layers=2, num_heads=2, max_seq_len=8)
    toks = _t(np.random.randint(0, 11, size=(2, 6)))
    nxt = _t(np.random.randint(0, 11, size=12))
    ce = CrossEntropyLoss()
    errs["gpt_loss"] = _grad_error(
        lambda: ce(gpt(toks).reshape(12, 11), nxt),
        [gpt.token_embedding.weight, gpt.position_embedding.weight, gpt.blocks[0].attention.k_proj.weight,
         gpt.blocks[1].ln2.beta, gpt.ln_f.gamma, gpt.lm_head.weight], samples=12)
    return errs


def probe_optimizers():
    from tinytorch.core.optimizers import SGD, Adam, AdamW
    rng = np.random.default_rng(4)
    w0 = rng.standard_normal((3, 2)).astype(np.float32)
    grads = [rng.standard_normal((3, 2)).astype(np.float32) for _ in range(4)]
    errs = {}

    def run(opt_cls, **kw):
        p = _t(w0, grad=True)
        opt = opt_cls([p], **kw)
        for g in grads:
            p.grad = g.copy()
            opt.step()
            opt.zero_grad()
        return p.data.astype(np.float64), p.grad

    lr, mom, wd = 0.1, 0.9, 0.01
    w, buf = w0.astype(np.float64), None
    for g in grads:
        d = g + wd * w
        buf = d if buf is None else mom * buf + d
        w = w - lr * buf
    got, after_zero = run(SGD, lr=lr, momentum=mom, weight_decay=wd)
    errs["sgd_momentum_wd"] = _rel(got, w)
    errs["zero_grad_sets_none"] = 0.0 if after_zero is None else 1.0

    def adam_ref(decoupled, wd):
        w, m, v = w0.astype(np.float64), 0.0, 0.0
        for t, g in enumerate(grads, start=1):
            d = g if decoupled else g + wd * w
            m = 0.9 * m + 0.1 * d
            v = 0.999 * v + 0.001 * d * d
            w = w - 0.01 * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
            if decoupled:
                w = w * (1 - 0.01 * wd)
        return w

    errs["adam_l2"] = _rel(run(Adam, lr=0.01, weight_decay=0.05)[0], adam_ref(False, 0.05))
    errs["adamw"] = _rel(run(AdamW, lr=0.01, weight_decay=0.05)[0], adam_ref(True, 0.05))
    errs["adam_defaults"] = _rel(run(Adam, lr=0.01)[0], adam_ref(False, 0.0))
    return errs


def probe_kv_cache():
    from tinytorch.core.transformer import GPT
    from tinytorch.perf.memoization import disable_kv_cache, enable_kv_cache
    np.random.seed(8)
    gpt = GPT(vocab_size=17, embed_dim=16, num_layers=2, num_heads=4, max_seq_len=24)
    prompt = [3, 1, 4, 1, 5]

    def sample(logits_row, rng):
        p = np.exp(logits_row - logits_row.max())
        return int(rng.choice(len(p), p=p / p.sum()))

    # without cache: full forward over the whole sequence each step
    rng, seq, plain_logits = np.random.default_rng(0), list(prompt), []
    for _ in range(10):
        last = gpt.forward(_t([seq])).data[0, -1]
        plain_logits.append(last)
        seq.append(sample(last, rng))
    # with cache, the course's protocol: one token per forward, advance() after each
    cache = enable_kv_cache(gpt)
    rng, cached_seq, cached_logits = np.random.default_rng(0), list(prompt), []
    for tok in prompt:
        last = gpt.forward(_t([[tok]])).data[0, -1]
        cache.advance()
    for _ in range(10):
        cached_logits.append(last)
        cached_seq.append(sample(last, rng))
        last = gpt.forward(_t([[cached_seq[-1]]])).data[0, -1]
        cache.advance()
    full_after = gpt.forward(_t([seq])).data  # longer inputs take the uncached path
    disable_kv_cache(gpt)
    restored = gpt.forward(_t([seq])).data
    np.random.seed(9)
    gen_plain = gpt.generate(_t([prompt]), max_new_tokens=6, temperature=0.8).data
    enable_kv_cache(gpt)
    np.random.seed(9)
    gen_cached = gpt.generate(_t([prompt]), max_new_tokens=6, temperature=0.8).data
    return {
        "same_tokens": seq == cached_seq,
        "logits_error": _rel(np.array(cached_logits), np.array(plain_logits)),
        "uncached_path_unchanged": _rel(full_after, restored),
        "generate_same_with_cache_enabled": bool(np.array_equal(gen_plain, gen_cached)),
        "generate_shape": list(gen_plain.shape),
        "cache_seq_pos": int(cache.seq_pos),
    }


def probe_training():
    """XOR with Tanh hidden units and SGD, and a conv net step through the Trainer."""
    from tinytorch.core.activations import ReLU, Sigmoid, Tanh
    from tinytorch.core.dataloader import DataLoader, TensorDataset
    from tinytorch.core.layers import Linear
    from tinytorch.core.losses import BinaryCrossEntropyLoss, CrossEntropyLoss
    from tinytorch.core.optimizers import SGD, Adam
    from tinytorch.core.spatial import Conv2d, MaxPool2d
    from tinytorch.core.training import Trainer
    from tinytorch.perf.compression import low_rank_approximate
    np.random.seed(0)
    x = _t([[0, 0], [0, 1], [1, 0], [1, 1]])
    y = _t([[0], [1], [1], [0]])
    l1, l2, act, out = Linear(2, 8), Linear(8, 1), Tanh(), Sigmoid()
    opt = SGD(l1.parameters() + l2.parameters(), lr=0.5, momentum=0.9)
    loss_fn = BinaryCrossEntropyLoss()
    for _ in range(300):
        loss = loss_fn(out(l2(act(l1(x)))), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    xor_acc = float(np.mean((out(l2(act(l1(x)))).data > 0.5) == (y.data > 0.5)))

    class TinyCNN:
        def __init__(self):
            self.conv, self.pool, self.relu = Conv2d(1, 4, 3), MaxPool2d(2), ReLU()
            self.fc = Linear(4 * 3 * 3, 2)

        def forward(self, x):
            h = self.pool(self.relu(self.conv(x)))
            return self.fc(h.reshape(h.shape[0], -1))

        def parameters(self):
            return self.conv.parameters() + self.fc.parameters()

    rng = np.random.default_rng(5)
    imgs = rng.standard_normal((64, 1, 8, 8)).astype(np.float32)
    labels = (imgs[:, 0, :4].mean(axis=(1, 2)) > imgs[:, 0, 4:].mean(axis=(1, 2))).astype(np.float32)
    imgs[:, 0, :4] += (labels[:, None, None] - 0.5)
    model = TinyCNN()
    trainer = Trainer(model, Adam(model.parameters(), lr=0.01), CrossEntropyLoss())
    loader = DataLoader(TensorDataset(_t(imgs), _t(labels)), batch_size=16, shuffle=True)
    losses = [trainer.train_epoch(loader) for _ in range(8)]
    _, acc = trainer.evaluate(loader)
    w = rng.standard_normal((12, 8))
    u, s, v = low_rank_approximate(w, rank_ratio=0.5)
    full_u, full_s, full_v = np.linalg.svd(w, full_matrices=False)
    return {
        "xor_accuracy": xor_acc,
        "cnn_loss_ratio": float(losses[-1] / losses[0]),
        "cnn_train_accuracy": float(acc),
        "low_rank_shapes": [list(u.shape), list(s.shape), list(v.shape)],
        "low_rank_error": _rel((u * s) @ v, (full_u[:, :4] * full_s[:4]) @ full_v[:4]),
    }


def probe_perf_and_text():
    """Smoke values from profiling, quantization, compression, the KV cache object, bench and tokenizers."""
    from tinytorch.bench import Benchmark, BenchmarkResult
    from tinytorch.capstone import BenchmarkReport, SimpleMLP
    from tinytorch.core.activations import ReLU
    from tinytorch.core.embeddings import EmbeddingLayer
    from tinytorch.core.layers import Linear
    from tinytorch.core.spatial import Conv2d
    from tinytorch.core.tokenization import BPETokenizer, CharTokenizer
    from tinytorch.perf.compression import compress_model, magnitude_prune, measure_sparsity
    from tinytorch.perf.memoization import KVCache
    from tinytorch.perf.profiling import Profiler
    from tinytorch.perf.quantization import QuantizedLinear, dequantize_int8, quantize_int8
    np.random.seed(12)

    class Net:
        def __init__(self):
            self.layers = [Linear(10, 16), ReLU(), Linear(16, 4)]

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x

        def parameters(self):
            return [p for layer in self.layers for p in layer.parameters()]

    net, prof = Net(), Profiler()
    memory = prof.measure_memory(net, (8, 10))
    w = _t(np.random.randn(20, 30))
    q, scale, zero = quantize_int8(w)
    qlin = QuantizedLinear(net.layers[0])
    x = _t(np.random.randn(5, 10))
    pruned = magnitude_prune(Net(), sparsity=0.5)
    _, stats = compress_model(Net(), {"magnitude_sparsity": 0.7})
    cache = KVCache(batch_size=1, max_seq_len=6, num_layers=2, num_heads=2, head_dim=3)
    cache.update(0, _t(np.ones((1, 2, 1, 3))), _t(np.ones((1, 2, 1, 3))))
    before = cache.get(0)[0].shape
    cache.advance()
    after = cache.get(0)[0].shape
    chars = CharTokenizer()
    chars.build_vocab(["hello world"])
    bpe = BPETokenizer(vocab_size=30)
    bpe.train(["low", "lower", "lowest", "newer", "wider", "low"])
    result = BenchmarkResult("t", [1.0, 2.0, 3.0])
    lat = Benchmark([net], [None], warmup_runs=1, measurement_runs=3).run_latency_benchmark((2, 10))
    report = BenchmarkReport("mlp").benchmark_model(SimpleMLP(), _t(np.random.randn(6, 10)),
                                                    np.zeros(6, dtype=int), num_runs=3)
    return {
        "params": prof.count_parameters(net),
        "flops_linear": int(prof.count_flops(Linear(784, 10), (1, 784))),
        "flops_conv": int(prof.count_flops(Conv2d(3, 8, 3, padding=1), (1, 3, 32, 32))),
        "memory_keys": sorted(memory),
        "latency_positive": prof.measure_latency(net, x, warmup=1, iterations=3) > 0,
        "int8_range_ok": bool(q.data.min() >= -128 and q.data.max() <= 127),
        "int8_roundtrip_over_scale": _rel(dequantize_int8(q, scale, zero).data, w.data)
        * float(np.max(np.abs(w.data))) / scale,
        "quantized_linear_rel_error": _rel(qlin(x).data, net.layers[0](x).data),
        "sparsity_after_prune": float(measure_sparsity(pruned)),
        "compress_final_sparsity": float(stats["final_sparsity"]),
        "kv_get_shapes": [list(before), list(after)],
        "char_roundtrip": chars.decode(chars.encode("hello")) == "hello" and chars.encode("z") == [0],
        "bpe_roundtrip": bpe.decode(bpe.encode("lower newest")) == "lower newest",
        "bpe_merged": len(bpe.encode("lowest")) < len("lowest"),
        "bench_stats": [result.mean, result.median, round(result.std, 6)],
        "bench_latency_models": sorted(lat),
        "capstone_keys": sorted(report),
        "sinusoidal_shape": list(EmbeddingLayer(9, 6, max_seq_len=5, pos_encoding="sinusoidal")(
            _t([[1, 2, 3]])).shape),
    }


PROBES = {
    "api": probe_api,
    "conventions": probe_conventions,
    "forward": probe_forward,
    "attention": probe_attention,
    "gradients": probe_gradients,
    "optimizers": probe_optimizers,
    "kv_cache": probe_kv_cache,
    "training": probe_training,
    "perf_and_text": probe_perf_and_text,
}


def _run_probes() -> dict:
    results = {}
    for name, probe in PROBES.items():
        try:
            results[name] = probe()
        except Exception:
            results[name] = {"__error__": traceback.format_exc()}
    return results


# ----------------------------------------------------------------------------------------------
# Test side (this process never imports the fixture)
# ----------------------------------------------------------------------------------------------

_CACHE: dict = {}


def _results() -> dict:
    if not _CACHE:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env.update(PYTHONPATH=str(FIXTURE), PYTHONHASHSEED="0", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
        proc = subprocess.run([sys.executable, str(HERE), "--probe"], capture_output=True, text=True,
                              env=env, cwd=str(FIXTURE), timeout=300)
        assert proc.returncode == 0, f"probe subprocess failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        marker = "@@PROBES@@"
        _CACHE.update(json.loads(proc.stdout.split(marker, 1)[1]))
    return _CACHE


def _section(name: str) -> dict:
    section = _results()[name]
    assert "__error__" not in section, section.get("__error__")
    return section


def test_fixture_is_the_package_under_test_and_exposes_the_course_api():
    api = _section("api")
    assert Path(api["file"]).resolve().is_relative_to(FIXTURE.resolve()), api["file"]
    assert api["missing"] == []
    assert api["no_grad_anywhere"] is False
    assert api["autograd_enabled"] is True
    assert api["gpt_forward"] == [["tokens", None]]
    assert api["gpt_generate"] == [["prompt_tokens", None], ["max_new_tokens", 50], ["temperature", 1.0]]
    assert api["conv2d_init"] == [["in_channels", None], ["out_channels", None], ["kernel_size", None],
                                  ["stride", 1], ["padding", 0], ["bias", True]]
    assert api["measure_memory"] == [["model", None], ["input_shape", None]]
    assert api["count_flops"] == [["model", None], ["input_shape", None]]
    assert api["low_rank"] == [["weight_matrix", None], ["rank_ratio", 0.5]]
    assert api["enable_kv_cache"] == [["model", None]]
    assert api["enable_autograd"] == [["quiet", False]]


def test_fixture_source_has_no_no_grad():
    sources = [p.read_text() for p in (FIXTURE / "tinytorch").rglob("*.py")]
    assert sources and not any("no_grad" in s for s in sources)


def test_course_conventions():
    c = _section("conventions")
    assert c["absent_tensor_extras"] == [] and c["has_sequential"] is False
    assert (c["mean_records_graph"], c["max_records_graph"], c["sum_records_graph"]) == (False, False, True)
    assert c["linear_weight_shape"] == [5, 3]
    assert c["conv_weight_shape"] == [4, 2, 3, 3]
    assert c["linear_init_is_global_randn"] is True
    assert c["data_dtype"] == "float32"
    assert c["grad_type"] == "ndarray" and c["grad_dtype"] == "float32"
    assert c["intermediate_has_grad"] is True


def test_forward_values_match_numpy():
    errors = _section("forward")
    bad = {k: v for k, v in errors.items() if v > 1e-5}
    assert not bad, bad


def test_attention_mask_and_causality():
    a = _section("attention")
    assert a["mask_values"] == [[[1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 1.0, 0.0],
                                 [1.0, 1.0, 1.0, 1.0]]]
    assert a["sdpa_output"] < 1e-5 and a["sdpa_weights"] < 1e-5 and a["mha"] < 1e-5
    assert a["future_weight_max"] == 0.0
    assert a["gpt_causal_prefix_change"] < 1e-6 < a["gpt_suffix_changes"]
    assert a["gpt_attention_content_sensitive"] > 1e-3


def test_backward_matches_finite_differences():
    errors = _section("gradients")
    bad = {k: v for k, v in errors.items() if v > 2e-2}
    assert not bad, bad


def test_optimizer_steps_match_formulas():
    errors = _section("optimizers")
    bad = {k: v for k, v in errors.items() if v > 1e-5}
    assert not bad, bad


def test_kv_cache_generation_equals_uncached_generation():
    kv = _section("kv_cache")
    assert kv["same_tokens"] is True
    assert kv["logits_error"] < 1e-4
    assert kv["uncached_path_unchanged"] < 1e-6
    assert kv["generate_same_with_cache_enabled"] is True
    assert kv["generate_shape"] == [1, 11]
    assert kv["cache_seq_pos"] == 15


def test_small_models_train():
    tr = _section("training")
    assert tr["xor_accuracy"] == 1.0
    assert tr["cnn_loss_ratio"] < 0.7 and tr["cnn_train_accuracy"] > 0.85
    assert tr["low_rank_shapes"] == [[12, 4], [4], [4, 8]]
    assert tr["low_rank_error"] < 1e-8


def test_perf_text_and_bench_modules_work():
    r = _section("perf_and_text")
    assert r["params"] == 10 * 16 + 16 + 16 * 4 + 4
    assert r["flops_linear"] == 784 * 10 * 2
    assert r["flops_conv"] == 32 * 32 * 3 * 3 * 3 * 8 * 2
    assert r["memory_keys"] == ["activation_memory_mb", "memory_efficiency", "parameter_memory_mb",
                                "peak_memory_mb"]
    assert r["latency_positive"] is True and r["int8_range_ok"] is True
    assert r["int8_roundtrip_over_scale"] <= 0.5 + 1e-3
    assert r["quantized_linear_rel_error"] < 0.02
    assert 0.45 <= r["sparsity_after_prune"] <= 0.55 and r["compress_final_sparsity"] >= 0.65
    assert r["kv_get_shapes"] == [[1, 2, 0, 3], [1, 2, 1, 3]]
    assert r["char_roundtrip"] is True and r["bpe_roundtrip"] is True and r["bpe_merged"] is True
    assert r["bench_stats"] == [2.0, 2.0, 1.0]
    assert r["bench_latency_models"] == ["model_0"]
    assert "accuracy" in r["capstone_keys"] and "latency_ms_mean" in r["capstone_keys"]
    assert r["sinusoidal_shape"] == [1, 3, 6]


if __name__ == "__main__" and "--probe" in sys.argv:
    print("@@PROBES@@" + json.dumps(_run_probes()))
