"""The host's numpy GPT reproduces the course's GPT from exported weights, and refuses what does not fit.

(a) the reference package's GPT, exported with ``extras/_harness/export.py``: same logits and
greedy ids; (b) the same for the independent course-style package in tests/fixtures, which runs in
a subprocess (it must never meet the reference package in one process); (c) the 2026 layout of the
same weights; (d) ArchitectureMismatch names the array at fault; (e) ``load_arrays`` refuses
pickles, object and structured arrays, lying headers, links, strangers and oversize directories.
Plus the exporter's walk: cycles, duplicates, private attributes, depth and count caps.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.evidence import ArchitectureMismatch, EvidenceProblem
from harness.evidence.arrays import MAX_FILES, load_arrays
from harness.evidence.numpy_gpt import NumpyGPT

REPO = Path(__file__).resolve().parents[2]
EXPORT_PY = REPO / "extras" / "_harness" / "export.py"
FIXTURE = REPO / "tests" / "fixtures" / "course_tinytorch"
VOCAB, EMBED, LAYERS, HEADS, MAX_SEQ = 20, 16, 2, 2, 12
TOLERANCE = 1e-4  # max |host - package| / max |package|


def _load_export():
    spec = importlib.util.spec_from_file_location("_export_under_test", EXPORT_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


export = _load_export()


def rel_error(actual, expected) -> float:
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    return float(np.max(np.abs(actual - expected)) / np.max(np.abs(expected)))


def expected_names_2025(layers: int = LAYERS) -> set[str]:
    names = {"token_embedding.weight", "position_embedding.weight", "ln_f.gamma", "ln_f.beta",
             "lm_head.weight"}
    for i in range(layers):
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            names |= {f"blocks.{i}.attention.{proj}.weight", f"blocks.{i}.attention.{proj}.bias"}
        for part in ("ln1.gamma", "ln1.beta", "ln2.gamma", "ln2.beta", "mlp.linear1.weight",
                     "mlp.linear1.bias", "mlp.linear2.weight", "mlp.linear2.bias"):
            names.add(f"blocks.{i}.{part}")
    return names


def to_2026(arrays: dict, fixed_positions: bool = False) -> dict:
    renamed = dict(arrays)
    renamed["embedding_layer.token_embedding.weight"] = renamed.pop("token_embedding.weight")
    position = ("embedding_layer.pos_encoding" if fixed_positions
                else "embedding_layer.pos_encoding.position_embeddings")
    renamed[position] = renamed.pop("position_embedding.weight")
    return renamed


# ----------------------------------------------------------------------------------------------
# (a) the reference package, in this process
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reference():
    """A small reference GPT with every parameter (biases, gammas, betas too) set at random."""
    from tinytorch.core.tensor import Tensor
    from tinytorch.core.transformer import GPT

    np.random.seed(3)
    model = GPT(VOCAB, EMBED, LAYERS, HEADS, max_seq_len=MAX_SEQ)
    rng = np.random.default_rng(4)
    for param in model.parameters():
        param.data[...] = rng.normal(0.0, 0.5, param.data.shape)
    arrays = export.named_arrays(model)
    tokens = rng.integers(0, VOCAB, (3, MAX_SEQ))
    logits = np.asarray(model.forward(Tensor(tokens)).data, dtype=np.float64)
    return model, Tensor, arrays, tokens, logits


def test_export_names_every_parameter_once_as_float32_copies(reference):
    model, _, arrays, _, _ = reference
    assert set(arrays) == expected_names_2025()
    assert len(arrays) == len(model.parameters()) == 37
    assert all(a.dtype == np.float32 for a in arrays.values())
    weight = model.blocks[1].attention.q_proj.weight.data
    assert np.array_equal(arrays["blocks.1.attention.q_proj.weight"], weight)
    assert not np.shares_memory(arrays["blocks.1.attention.q_proj.weight"], weight)


def test_logits_match_the_reference_package(reference):
    _, _, arrays, tokens, logits = reference
    gpt = NumpyGPT(arrays, HEADS, vocab_size=VOCAB, embed_dim=EMBED, num_layers=LAYERS, max_seq_len=MAX_SEQ)
    assert (gpt.version, gpt.vocab_size, gpt.embed_dim, gpt.num_layers, gpt.max_seq_len, gpt.hidden_dim) == \
        ("2025", VOCAB, EMBED, LAYERS, MAX_SEQ, 4 * EMBED)
    assert gpt.unused == []
    host = gpt.logits(tokens)
    assert host.shape == (3, MAX_SEQ, VOCAB) and host.dtype == np.float64
    assert rel_error(host, logits) < TOLERANCE
    assert np.std(logits) > 0.1  # the comparison is not between two near-constant arrays


def test_logits_are_causal(reference):
    _, _, arrays, tokens, _ = reference
    gpt = NumpyGPT(arrays, HEADS)
    changed = tokens.copy()
    changed[:, 6] = (changed[:, 6] + 1) % VOCAB
    before, after = gpt.logits(tokens), gpt.logits(changed)
    assert np.array_equal(before[:, :6], after[:, :6])  # the past does not see the future
    assert np.max(np.abs(before[:, 6:] - after[:, 6:])) > 1e-3


def test_greedy_matches_the_package_and_crops_to_max_seq_len(reference):
    model, tensor, arrays, _, _ = reference
    gpt = NumpyGPT(arrays, HEADS)
    prompt = [3, 1, 4, 1, 5]
    ids, loop = list(prompt), []
    for _ in range(15):  # 5 + 15 > max_seq_len: the window slides
        window = np.array([ids[-MAX_SEQ:]])
        token = int(np.argmax(model.forward(tensor(window)).data[0, -1]))
        ids.append(token)
        loop.append(token)
    assert gpt.greedy(prompt, 15) == loop
    assert gpt.greedy(np.array([prompt]), 15) == loop  # (1, S) prompts too
    sampled = model.generate(tensor(np.array([prompt])), max_new_tokens=MAX_SEQ - 5, temperature=1e-6)
    assert gpt.greedy(prompt, MAX_SEQ - 5) == [int(t) for t in np.asarray(sampled.data)[0, 5:]]
    assert len(set(loop)) > 1
    assert gpt.greedy(prompt, 15, stop=loop[2]) == loop[:loop.index(loop[2]) + 1]
    assert gpt.greedy(prompt, 0) == []
    with pytest.raises(ValueError):
        gpt.greedy([], 3)
    with pytest.raises(ValueError):
        gpt.greedy([VOCAB], 3)


def test_course_2025_mask_mode_reproduces_the_course_gpt(reference):
    """The 2025 course's GPT hands an additive 0/-inf mask to an attention that adds (1 - mask) * -1e9;
    the reference's attention does the same addition, so feeding it that mask is the course's model."""
    model, tensor, arrays, tokens, logits = reference
    model._create_causal_mask = lambda seq: tensor(np.triu(np.ones((seq, seq)) * -np.inf, k=1))
    try:
        course = np.asarray(model.forward(tensor(tokens)).data, dtype=np.float64)
    finally:
        del model._create_causal_mask
    assert rel_error(course, logits) > 0.05  # a different model indeed
    assert rel_error(NumpyGPT(arrays, HEADS, attention="course-2025").logits(tokens), course) < TOLERANCE
    with pytest.raises(ValueError):
        NumpyGPT(arrays, HEADS, attention="bidirectional")


# ----------------------------------------------------------------------------------------------
# (b) the course-style fixture package, in a subprocess
# ----------------------------------------------------------------------------------------------

PROBE = r"""
import importlib.util, json, sys
from pathlib import Path
import numpy as np

export_path, out, dims = Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3])
spec = importlib.util.spec_from_file_location("course_export", export_path)
export = importlib.util.module_from_spec(spec)
spec.loader.exec_module(export)

import tinytorch
from tinytorch.core.tensor import Tensor
from tinytorch.core.transformer import GPT

vocab, embed, layers, heads, max_seq = (dims[k] for k in ("vocab", "embed", "layers", "heads", "max_seq"))
np.random.seed(5)
model = GPT(vocab, embed, layers, heads, max_seq_len=max_seq)
rng = np.random.default_rng(6)
for param in model.parameters():
    param.data[...] = rng.normal(0.0, 0.5, param.data.shape)
export.save_arrays(out / "weights", export.named_arrays(model))
tokens = rng.integers(0, vocab, (3, max_seq))
np.save(out / "tokens.npy", tokens)
np.save(out / "logits.npy", np.asarray(model.forward(Tensor(tokens)).data, dtype=np.float64))
prompt = [int(t) for t in rng.integers(0, vocab, 5)]
ids, loop = list(prompt), []
for _ in range(15):
    token = int(np.argmax(model.forward(Tensor(np.array([ids[-max_seq:]]))).data[0, -1]))
    ids.append(token)
    loop.append(token)
sampled = model.generate(Tensor(np.array([prompt])), max_new_tokens=max_seq - 5, temperature=1e-6)
result = {"package": tinytorch.__file__, "prompt": prompt, "loop": loop,
          "generate": [int(t) for t in np.asarray(sampled.data)[0, 5:]]}
(out / "probe.json").write_text(json.dumps(result))
"""


@pytest.fixture(scope="module")
def course_fixture(tmp_path_factory):
    out = tmp_path_factory.mktemp("course_gpt")
    script = out / "probe.py"
    script.write_text(PROBE)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PYTHONPATH=str(FIXTURE), PYTHONHASHSEED="0", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    dims = json.dumps({"vocab": VOCAB, "embed": EMBED, "layers": LAYERS, "heads": HEADS, "max_seq": MAX_SEQ})
    proc = subprocess.run([sys.executable, str(script), str(EXPORT_PY), str(out), dims],
                          capture_output=True, text=True, env=env, cwd=str(FIXTURE), timeout=300)
    assert proc.returncode == 0, f"probe failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return out, json.loads((out / "probe.json").read_text())


def test_the_probe_ran_the_fixture_package(course_fixture):
    _, probe = course_fixture
    assert Path(probe["package"]).resolve().is_relative_to(FIXTURE.resolve())


def test_fixture_weights_load_and_give_the_fixtures_logits(course_fixture):
    out, _ = course_fixture
    arrays = load_arrays(out / "weights")
    assert set(arrays) == expected_names_2025()
    gpt = NumpyGPT(arrays, HEADS, strict=True)
    logits = np.load(out / "logits.npy")
    assert np.std(logits) > 0.1
    assert rel_error(gpt.logits(np.load(out / "tokens.npy")), logits) < TOLERANCE


def test_fixture_greedy_generation_matches(course_fixture):
    out, probe = course_fixture
    gpt = NumpyGPT.from_directory(out / "weights", HEADS)
    assert gpt.greedy(probe["prompt"], 15) == probe["loop"]
    assert gpt.greedy(probe["prompt"], MAX_SEQ - 5) == probe["generate"]


# ----------------------------------------------------------------------------------------------
# (c) the 2026 layout
# ----------------------------------------------------------------------------------------------


def test_2026_layout_gives_the_same_logits(reference):
    _, _, arrays, tokens, logits = reference
    expected = NumpyGPT(arrays, HEADS).logits(tokens)
    for fixed in (False, True):
        gpt = NumpyGPT(to_2026(arrays, fixed_positions=fixed), HEADS, strict=True)
        assert gpt.version == "2026"
        assert np.array_equal(gpt.logits(tokens), expected)
    assert rel_error(expected, logits) < TOLERANCE


def test_2026_scale_embeddings_multiplies_token_vectors_by_sqrt_embed_dim(reference):
    _, _, arrays, tokens, _ = reference
    scaled = dict(arrays, **{"token_embedding.weight": arrays["token_embedding.weight"] * math.sqrt(EMBED)})
    expected = NumpyGPT(scaled, HEADS).logits(tokens)
    got = NumpyGPT(to_2026(arrays), HEADS, scale_embeddings=True).logits(tokens)
    assert rel_error(got, expected) < 1e-12
    assert rel_error(got, NumpyGPT(arrays, HEADS).logits(tokens)) > 0.01
    with pytest.raises(ValueError, match="2026"):
        NumpyGPT(arrays, HEADS, scale_embeddings=True)


# ----------------------------------------------------------------------------------------------
# (d) weights that do not fit
# ----------------------------------------------------------------------------------------------


def _without(arrays, *names):
    return {k: v for k, v in arrays.items() if k not in names}


def _reshaped(arrays, name, shape):
    return dict(arrays, **{name: np.zeros(shape, np.float32)})


@pytest.mark.parametrize("change, heads, needles", [
    (lambda a: _without(a, "blocks.1.mlp.linear2.bias"), HEADS,
     ["blocks.1.mlp.linear2.bias is missing", "(16,)"]),
    (lambda a: _reshaped(a, "blocks.0.attention.k_proj.weight", (16, 15)), HEADS,
     ["blocks.0.attention.k_proj.weight has shape (16, 15)", "(embed_dim, embed_dim) = (16, 16)"]),
    (lambda a: _reshaped(a, "ln_f.gamma", (15,)), HEADS, ["ln_f.gamma has shape (15,)", "(16,)"]),
    (lambda a: _reshaped(a, "lm_head.weight", (16, 19)), HEADS,
     ["lm_head.weight has shape (16, 19)", "(embed_dim, vocab_size) = (16, 20)"]),
    (lambda a: _reshaped(a, "position_embedding.weight", (12, 8)), HEADS,
     ["position_embedding.weight has shape (12, 8)", "(12, 16)"]),
    (lambda a: _reshaped(a, "blocks.1.mlp.linear2.weight", (32, 16)), HEADS,
     ["blocks.1.mlp.linear2.weight has shape (32, 16)", "(hidden_dim, embed_dim) = (64, 16)"]),
    (lambda a: _reshaped(a, "token_embedding.weight", (20,)), HEADS,
     ["token_embedding.weight has shape (20,)"]),
    (lambda a: _without(a, *[n for n in a if n.startswith("blocks.0.")]), HEADS,
     ["blocks.0.attention.q_proj.weight is missing"]),
    (lambda a: {("tok_emb.weight" if k == "token_embedding.weight" else k): v for k, v in a.items()}, HEADS,
     ["unknown layout", "token_embedding.weight", "embedding_layer.token_embedding.weight",
      "tok_emb.weight", "blocks.* (32 arrays)"]),
    (lambda a: dict(a, **{"embedding_layer.token_embedding.weight": a["token_embedding.weight"]}), HEADS,
     ["ambiguous layout"]),
    (lambda a: dict(a, **{"lm_head.bias": np.zeros(VOCAB, np.float32)}), HEADS,
     ["lm_head.bias", "bias=False"]),
    (lambda a: _without(to_2026(a), "embedding_layer.pos_encoding.position_embeddings"), HEADS,
     ["embedding_layer.pos_encoding.position_embeddings is missing"]),
    (lambda a: a, 3, ["num_heads=3", "16"]),
])
def test_mismatches_name_the_array(reference, change, heads, needles):
    _, _, arrays, _, _ = reference
    with pytest.raises(ArchitectureMismatch) as info:
        NumpyGPT(change(arrays), heads)
    for needle in needles:
        assert needle in str(info.value), (needle, str(info.value))


def test_declared_dimensions_and_strictness(reference):
    _, _, arrays, _, _ = reference
    with pytest.raises(ArchitectureMismatch, match="num_layers=2 .*num_layers=3"):
        NumpyGPT(arrays, HEADS, num_layers=3)
    with pytest.raises(ArchitectureMismatch, match="vocab_size=20 .*token_embedding.weight"):
        NumpyGPT(arrays, HEADS, vocab_size=21)
    extra = dict(arrays, **{"blocks.0.attention.rel_bias": np.zeros(3, np.float32)})
    assert NumpyGPT(extra, HEADS).unused == ["blocks.0.attention.rel_bias"]
    with pytest.raises(ArchitectureMismatch, match=r"blocks\.0\.attention\.rel_bias"):
        NumpyGPT(extra, HEADS, strict=True)


def test_token_checks(reference):
    _, _, arrays, tokens, _ = reference
    gpt = NumpyGPT(arrays, HEADS)
    assert np.array_equal(gpt.logits(tokens.astype(np.float32)), gpt.logits(tokens))  # course ids are floats
    for bad in (tokens[0], np.full((1, 3), VOCAB), np.full((1, 3), -1), np.full((1, 3), 0.5),
                np.zeros((1, MAX_SEQ + 1), int), np.zeros((1, 0), int)):
        with pytest.raises(ValueError):
            gpt.logits(bad)


# ----------------------------------------------------------------------------------------------
# (e) load_arrays refuses what is not a plain, bounded set of numeric .npy files
# ----------------------------------------------------------------------------------------------


def test_load_arrays_round_trips_save_arrays(tmp_path, reference):
    _, _, arrays, _, _ = reference
    export.save_arrays(tmp_path / "w", arrays)
    loaded = load_arrays(tmp_path / "w")
    assert set(loaded) == set(arrays)
    assert all(np.array_equal(loaded[k], arrays[k]) and loaded[k].dtype == np.float32 for k in arrays)


def _npy(directory: Path, name: str, value, allow_pickle=False) -> Path:
    directory.mkdir(exist_ok=True)
    path = directory / name
    np.save(path, value, allow_pickle=allow_pickle)
    return path


@pytest.mark.parametrize("value, needle", [
    (np.array([{"a": 1}, None], dtype=object), "object"),
    (np.zeros(2, dtype=[("x", "<f4"), ("y", "<i4")]), "plain numeric"),
    (np.array(["abc"]), "plain numeric"),
    (np.zeros(2, dtype=np.complex64), "plain numeric"),
])
def test_load_arrays_refuses_pickles_and_non_numeric_arrays(tmp_path, value, needle):
    _npy(tmp_path / "w", "a.npy", value, allow_pickle=True)
    with pytest.raises(EvidenceProblem, match=needle):
        load_arrays(tmp_path / "w")


def test_load_arrays_refuses_a_header_that_lies_about_its_size(tmp_path):
    (tmp_path / "w").mkdir()
    header = np.lib.format.header_data_from_array_1_0(np.zeros(4, np.float32))
    header["shape"] = (4_000_000_000_000,)  # claims 16 TB, holds 16 bytes
    with open(tmp_path / "w" / "a.npy", "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, header)
        handle.write(np.zeros(4, np.float32).tobytes())
    with pytest.raises(EvidenceProblem, match="header says"):
        load_arrays(tmp_path / "w")


def test_load_arrays_refuses_too_many_files(tmp_path):
    for i in range(MAX_FILES + 1):
        _npy(tmp_path / "w", f"a{i}.npy", np.zeros(1, np.float32))
    with pytest.raises(EvidenceProblem, match=f"more than {MAX_FILES} files"):
        load_arrays(tmp_path / "w")
    (tmp_path / "w" / "a0.npy").unlink()
    assert len(load_arrays(tmp_path / "w")) == MAX_FILES


def test_load_arrays_refuses_oversize_input(tmp_path):
    directory = tmp_path / "w"
    directory.mkdir()
    with open(directory / "big.npy", "wb") as handle:  # sparse: 257 MiB on paper, nothing on disk
        handle.truncate(257 * 1024 * 1024)
    with pytest.raises(EvidenceProblem, match="total more than"):
        load_arrays(directory)
    (directory / "big.npy").unlink()
    _npy(directory, "a.npy", np.zeros(100, np.float32))
    _npy(directory, "b.npy", np.zeros(100, np.float32))
    assert len(load_arrays(directory, max_bytes=1100)) == 2  # 528 bytes each, header included
    with pytest.raises(EvidenceProblem, match="total more than 600 bytes"):
        load_arrays(directory, max_bytes=600)


def test_load_arrays_refuses_strangers_links_and_missing_directories(tmp_path):
    directory = tmp_path / "w"
    _npy(directory, "a.npy", np.zeros(2, np.float32))
    (directory / "notes.txt").write_text("hi")
    with pytest.raises(EvidenceProblem, match="notes.txt"):
        load_arrays(directory)
    (directory / "notes.txt").unlink()
    (directory / "b.npy").symlink_to(directory / "a.npy")
    with pytest.raises(EvidenceProblem, match="b.npy"):
        load_arrays(directory)
    (directory / "b.npy").unlink()
    (directory / "sub.npy").mkdir()
    with pytest.raises(EvidenceProblem, match="sub.npy"):
        load_arrays(directory)
    (directory / "sub.npy").rmdir()
    (tmp_path / "link").symlink_to(directory)
    with pytest.raises(EvidenceProblem, match="not a directory"):
        load_arrays(tmp_path / "link")
    with pytest.raises(EvidenceProblem, match="does not exist"):
        load_arrays(tmp_path / "nowhere")
    (directory / "bad.npy").write_bytes(b"not an array")
    with pytest.raises(EvidenceProblem, match="bad.npy"):
        load_arrays(directory)


# ----------------------------------------------------------------------------------------------
# the exporter's walk
# ----------------------------------------------------------------------------------------------


class FakeTensor:
    def __init__(self, values):
        self.data = np.asarray(values, dtype=np.float64)
        self.grad = np.ones_like(self.data)  # never exported: Tensors are not walked into


class Node:
    pass


def test_export_walks_lists_dicts_and_objects_once_skipping_private_and_callables():
    shared = FakeTensor([1.0, 2.0])
    model = Node()
    model.first = shared
    model.layers = [Node(), (FakeTensor([3.0]), shared)]
    model.layers[0].w = FakeTensor([[4.0]])
    model.layers[0].parent = model  # a cycle
    model.table = {"alpha": FakeTensor([5.0]), "_hidden": FakeTensor([6.0]), 7: FakeTensor([7.0])}
    model._cache = FakeTensor([8.0])
    model.forward = lambda x: x
    model.kind = Node  # a class: not walked
    model.raw = np.zeros(3)  # a bare array is not a Tensor
    model.count = 3
    arrays = export.named_arrays(model)
    assert list(arrays) == ["first", "layers.0.w", "layers.1.0", "table.alpha"]
    assert arrays["first"].dtype == np.float32 and arrays["layers.0.w"].tolist() == [[4.0]]


def _chain(depth: int) -> Node:
    """A model whose only Tensor sits at a dotted path of ``depth`` names."""
    root = node = Node()
    for _ in range(depth - 1):
        node.child = Node()
        node = node.child
    node.weight = FakeTensor([1.0])
    return root


def test_export_caps_depth_and_count():
    assert list(export.named_arrays(_chain(export.MAX_DEPTH))) == [".".join(["child"] * 11 + ["weight"])]
    with pytest.raises(export.ExportError, match="deeper than 12"):
        export.named_arrays(_chain(export.MAX_DEPTH + 1))
    many = Node()
    many.items = [FakeTensor([float(i)]) for i in range(export.MAX_ARRAYS)]
    assert len(export.named_arrays(many)) == export.MAX_ARRAYS
    many.items.append(FakeTensor([0.0]))
    with pytest.raises(export.ExportError, match="more than 10000 Tensors"):
        export.named_arrays(many)


def test_export_refuses_non_numeric_tensors_and_bad_names(tmp_path):
    model = Node()
    model.words = FakeTensor([0.0])
    model.words.data = np.array(["a", "b"])
    with pytest.raises(export.ExportError, match="words"):
        export.named_arrays(model)
    for name in ("../up", "a..b", ".hidden", "a/b", "", "a.npy."):
        with pytest.raises(export.ExportError):
            export.save_arrays(tmp_path / "w", {name: np.zeros(1, np.float32)})
    with pytest.raises(export.ExportError):
        export.save_arrays(tmp_path / "w", {"ok": np.array([{}], dtype=object)})
    assert not (tmp_path / "w").exists() or list((tmp_path / "w").iterdir()) == []
