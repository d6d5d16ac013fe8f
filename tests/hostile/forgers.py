"""Forged ``tinytorch`` packages: no working model, as much cheating as reading this repository allows.

Each builder writes one package into a directory and returns its submission root (the folder
holding ``tinytorch/``). Every package holds every module any criterion ``requires`` (so no extra
is skipped as "submission lacks ..."); what differs is what its code does inside the sandbox:

``empty_claimer``
    Its import writes a value that passes the rule of every metric named in criteria/*.yaml to
    ``metrics.jsonl``, and exits cleanly: the script never runs.
``label_embedder``
    Ships the public test labels (MNIST's and CIFAR-10's, read from ``$HARNESS_SHARED_DIR`` when
    the package is built; made up when they are not there). Its import writes them as predictions
    under every name a grader might read (evidence arrays and ``/out`` files), answers every other
    evidence name the host reads (harness/evidence/*.py) with the best value it can make without a
    model (the grader's start as "trained" weights, the labels as outputs, zeros as logits, the
    grader's own formulas from ``extras/_harness``), claims every metric, and exits.
``monkeypatcher``
    A package of fakes (every name any extra imports is a class of objects that accept anything).
    Its import patches ``extras/_harness`` in memory (metrics report passing values, the gates pass,
    the probes, weight exports and phases record made-up arrays, training returns at once) and
    numpy (``allclose``/``array_equal``/``isclose`` are true, ``linalg.norm`` is 0, ``mean`` is 1),
    rebinds the names the script already imported, and lets the script run.
``regex_answerer``
    A fake GPT (Tensor, loss, optimizers and GPT that learn nothing) whose ``forward`` answers the
    TinyTalks questions in its input by regular expressions and a table read from the training
    split; it exports randomly initialised weights in the course's layout.
``pass_completer``
    The same fake GPT, completing every ``def ...:`` line with ``    pass``.
``prebaked_wrong_shape`` / ``prebaked_untrained``
    Ship pre-baked weights in the package (random, made when the package is built): the wrong
    architecture (wider layers, a smaller GPT), or the declared shapes untrained (not the grader's
    start). Their import exports them under the names the host reads, with the outputs those
    weights give on the grader's consistency batch computed in numpy (so the outputs do describe
    the exported weights), and for compression the same weights as "pruned" and "quantized" model
    with zero low-rank factors; then they claim every metric and exit.

None of them copies course code: the fakes, rules and numpy forward passes are written here.
"""

from __future__ import annotations

import functools
import gzip
import json
from pathlib import Path

import numpy as np

from harness.criteria import Criterion, load_all

REPO = Path(__file__).resolve().parents[2]

# --------------------------------------------------------------------------------------------------
# What every forger needs: the criteria's modules and metrics, a package skeleton, a sandbox toolbox
# --------------------------------------------------------------------------------------------------


@functools.cache
def criteria() -> dict[str, Criterion]:
    return load_all(REPO / "criteria")


def required_modules() -> list[str]:
    """Every module an extra requires (the first spelling of ``a|b``), sorted."""
    return sorted({entry.split("|")[0] for c in criteria().values() for entry in c.requires})


def passing_claims() -> dict[str, float | bool]:
    """A value for every metric of every criterion that its rule accepts (the quick rule first)."""
    claims: dict[str, float | bool] = {}
    for criterion in criteria().values():
        for check in criterion.checks:
            rule = check.rule_for("quick")
            if rule.kind == "range":
                value = (rule.range[0] + rule.range[1]) / 2
            elif rule.kind == "allclose":
                value = rule.allclose.value
            else:
                value = getattr(rule, rule.kind)  # min, max or equals: the bound itself passes
            claims.setdefault(check.metric, value)
    return claims


def skeleton(root: Path, module_text: str = "", files: dict[str, str] | None = None) -> Path:
    """``root/tinytorch`` with every required module holding ``module_text``, then ``files``
    (paths relative to ``tinytorch/``) written over it; returns ``root``."""
    package = root / "tinytorch"
    for module in required_modules():
        parts = module.split(".")
        for depth in range(1, len(parts)):
            folder = root.joinpath(*parts[:depth])
            folder.mkdir(parents=True, exist_ok=True)
            init = folder / "__init__.py"
            if not init.exists():
                init.write_text(module_text)
        root.joinpath(*parts).with_suffix(".py").write_text(module_text)
    for relative, text in (files or {}).items():
        path = package / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (package / "_claims.json").write_text(json.dumps(passing_claims()))
    (package / "_forge.py").write_text(FORGE)
    for path in [root, *root.rglob("*")]:  # the docker sandbox reads the package as "others"
        path.chmod(0o755 if path.is_dir() else 0o644)
    return root


FORGE = '''\
"""The forger's toolbox inside the sandbox: the host's inputs, evidence and claims written by hand."""
import json
import os
import sys
from pathlib import Path

import numpy as np

OUT = os.environ.get("HARNESS_OUT")
PROFILE = os.environ.get("HARNESS_PROFILE", "full")
CLAIMS = json.loads(Path(__file__).with_name("_claims.json").read_text())
_claimed = set()


def script():
    return Path(sys.argv[0]).name


def given():
    folder = os.environ.get("HARNESS_IN")
    if not folder:
        return {}
    with np.load(Path(folder) / "probes.npz") as archive:
        return {name: archive[name] for name in archive.files}


def record(name, array):
    if OUT:
        folder = Path(OUT) / "evidence"
        folder.mkdir(exist_ok=True)
        with open(folder / f"{name}.npy", "wb") as handle:
            np.save(handle, np.asarray(array), allow_pickle=False)


def artifact(filename, array):
    if OUT:
        with open(Path(OUT) / filename, "wb") as handle:
            np.save(handle, np.asarray(array), allow_pickle=False)


def claim(name):
    """A value the metric's rule accepts, whatever was measured (once per name)."""
    if OUT and name not in _claimed:
        _claimed.add(name)
        with open(Path(OUT) / "metrics.jsonl", "a") as handle:
            handle.write(json.dumps({"kind": "scalar", "name": name, "value": CLAIMS.get(name, 1.0)}) + "\\n")


def claim_everything():
    for name in CLAIMS:
        claim(name)


def leave():
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
'''

# --------------------------------------------------------------------------------------------------
# The empty claimer
# --------------------------------------------------------------------------------------------------

CLAIM_AND_LEAVE = '''\
from tinytorch._forge import OUT, claim_everything, leave

if OUT:
    claim_everything()
    leave()
'''


def empty_claimer(tmp_path: Path) -> Path:
    return skeleton(tmp_path / "empty_claimer", files={"__init__.py": CLAIM_AND_LEAVE})


# --------------------------------------------------------------------------------------------------
# The label embedder
# --------------------------------------------------------------------------------------------------

LABEL_NAMES = ("predictions", "test_predictions", "test.predictions", "predictions.test", "labels",
               "test.labels", "test_labels", "y_test", "y_pred", "test.y", "float.predictions",
               "float_predictions", "mnist.predictions", "cifar10.predictions", "answers")
SCORE_NAMES = ("scores", "test.scores", "test_scores", "logits", "test.logits", "outputs", "test.out",
               "float.out", "probs")

EMBED_LABELS = '''\
"""Public test labels as predictions under every name, and every evidence name the host reads."""
from pathlib import Path

import numpy as np

from tinytorch._forge import OUT, PROFILE, artifact, claim_everything, given, leave, record, script

LABEL_NAMES = %(labels)r
SCORE_NAMES = %(scores)r


def _forge():
    claim_everything()
    inputs = given()
    with np.load(Path(__file__).with_name("_labels.npz")) as shipped:
        labels = shipped["cifar10" if "cifar" in script() else "mnist"].astype(np.int64)
    onehot = np.eye(10)[labels]
    for name in LABEL_NAMES:
        record(name, labels)
    for name in SCORE_NAMES:
        record(name, onehot)
    for filename in ("predictions.npy", "test_predictions.npy", "labels.npy", "y_test.npy"):
        artifact(filename, labels)
    # "trained" weights: the grader's own start; "my model's outputs": the labels
    for name, value in inputs.items():
        for prefix in ("init.", "init0."):
            if name.startswith(prefix):
                record("weights." + name[len(prefix):], value)
    record("mlp.attempt", np.array(0))
    for batch, out in (("consistency.x", "consistency.out"), ("int8.x", "int8.out")):
        if batch in inputs and inputs[batch].dtype.kind == "f":
            record(out, onehot[:len(inputs[batch])])
    # the language and profiling extras' names, with what passes without a model
    try:
        from _harness import lm
    except ImportError:  # not under the grader's extras
        leave()
    vocab = lm.tinytalks_char_vocab()
    if "causal.x" in inputs:  # logits that never move, whatever the later tokens
        rows, length = inputs["causal.x"].shape
        record("causal.out", np.zeros((rows, length, vocab.size)))
    prompt = vocab.encode("Q: what color is a ")  # extras/01_vaswani_generation.py
    length = lm.TEXTGEN_CONFIG[PROFILE]["seq_len"]
    record("sample.ids", np.concatenate([prompt, np.zeros(length - len(prompt), np.int64)]))
    for name in ("consistency.x", "kv.consistency.x", "sampler.consistency.x"):
        if name in inputs and inputs[name].dtype.kind in "iu":
            record(name[:-1] + "out", np.zeros((*inputs[name].shape, 64)))
    if "ce.logits" in inputs:  # the grader's own cross-entropy, no CrossEntropyLoss
        record("ce.loss", np.array(lm.cross_entropy(inputs["ce.logits"].astype(np.float64),
                                                    inputs["ce.targets"])))
    if "kv.tokens" in inputs:
        record("kv.cached", np.zeros((len(inputs["kv.tokens"]), lm.GENOPTS_CONFIG[PROFILE]["vocab_size"])))
    if "sampler.context" in inputs:
        record("sampler.draws", np.zeros(lm.GENOPTS_CONFIG[PROFILE]["samples"], np.int64))
        greedy = np.zeros(lm.GREEDY_STEPS, np.int64)
        record("sampler.greedy", np.concatenate([inputs["sampler.context"], greedy]))
    if "mlp.sizes" in inputs:  # the grader's own counting conventions, no Profiler
        from _harness import baseline
        sizes = [int(n) for n in inputs["mlp.sizes"]]
        parameters = baseline.expected_parameters(sizes)
        record("profiler.parameters", np.array([parameters]))
        record("profiler.flops", np.array([baseline.expected_flops(sizes)]))
        record("profiler.memory_mb", np.array([4 * parameters / 2**20]))
        record("profiler.latency_ms", np.array([1.0]))
    leave()


if OUT:
    _forge()
'''


def _public_labels() -> dict[str, np.ndarray]:
    """The MNIST and CIFAR-10 test labels from the shared datasets; 10,000 made-up bytes when absent."""
    from tests.conftest import SHARED_DIR

    labels = {}
    mnist = SHARED_DIR / "datasets" / "mnist" / "t10k-labels-idx1-ubyte.gz"
    cifar = SHARED_DIR / "datasets" / "cifar10" / "cifar10.npz"
    if mnist.is_file():
        labels["mnist"] = np.frombuffer(gzip.decompress(mnist.read_bytes()), np.uint8, offset=8)
    if cifar.is_file():
        with np.load(cifar) as archive:
            labels["cifar10"] = archive["y_test"].astype(np.uint8).reshape(-1)
    made_up = np.random.default_rng(10_000).integers(0, 10, 10_000).astype(np.uint8)
    return {name: labels.get(name, made_up) for name in ("mnist", "cifar10")}


def label_embedder(tmp_path: Path) -> Path:
    root = skeleton(tmp_path / "label_embedder", files={
        "__init__.py": EMBED_LABELS % {"labels": LABEL_NAMES, "scores": SCORE_NAMES}})
    np.savez(root / "tinytorch" / "_labels.npz", **_public_labels())
    (root / "tinytorch" / "_labels.npz").chmod(0o644)
    return root


# --------------------------------------------------------------------------------------------------
# The monkeypatcher
# --------------------------------------------------------------------------------------------------

FAKES = '''\
"""Objects that accept anything: every class any extra imports from this package is one of them."""
import numpy as np


class Anything:
    shape = (1, 1)

    def __init__(self, *args, **kwargs):
        pass

    def __call__(self, *args, **kwargs):
        return Anything()

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return Anything()

    @property
    def data(self):
        return np.zeros((1, 1), np.float32)

    def __getitem__(self, key):
        return Anything()

    def __iter__(self):
        return iter(())

    def __len__(self):
        return 0

    def __float__(self):
        return 0.0

    def __int__(self):
        return 0

    def __index__(self):
        return 0

    def __bool__(self):
        return True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __array__(self, dtype=None, copy=None):
        return np.zeros((1, 1), dtype or np.float32)

    def _same(self, *args):
        return self

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _same
    __matmul__ = __rmatmul__ = __pow__ = __neg__ = _same


_CLASSES = {}


def fake_class(name):
    if name not in _CLASSES:
        _CLASSES[name] = type(name, (Anything,), {})
    return _CLASSES[name]


def module_getattr(name):
    if name.startswith("__"):
        raise AttributeError(name)
    return fake_class(name)
'''

PATCHES = '''\
"""Patch the grader's sandbox helpers (extras/_harness) and numpy in memory, before the script goes on."""
import importlib
import sys

import numpy as np

from tinytorch._fake import Anything, fake_class
from tinytorch._forge import claim, record

HELPERS = ("common", "course", "decode_timing", "evidence", "export", "gates", "lm", "metrics", "phases",
           "probes")
PROBE_OUTPUTS = {"linear_sigmoid_bce": ("prob", "loss"), "mlp_cross_entropy": ("logits", "loss"),
                 "mlp_tanh_bce": ("hidden", "prob", "loss"),
                 "conv_pool_cross_entropy": ("conv", "pooled", "loss")}


def install():
    try:
        h = {name: importlib.import_module("_harness." + name) for name in HELPERS}
    except ImportError:  # not under the grader's extras
        return
    given = h["evidence"].inputs()

    def report(name, value=None, note=None):
        claim(name)

    def report_weight_changes(before, weights):
        for name in weights:
            claim("weight_change_" + name)
        claim("min_weight_change")
        return dict.fromkeys(weights, 1.0)

    def train_epochs(model, loss_fn, optimizer, tensor_cls, x, y, **kwargs):
        for name in ("first_layer_grad_norm", "train_seconds", "loss_ratio"):
            claim(name)
        report_weight_changes({}, kwargs.get("weights", {}))
        return [2.3, 0.1]

    def probe(name):
        def fake(*classes):
            for output in PROBE_OUTPUTS[name]:
                record("probe." + output, np.zeros(1))
            for key, value in given.items():
                if key.startswith("probe.") and key[6:] not in ("x", "t", "ids"):
                    record("probe.grad." + key[6:], np.zeros_like(value))
        return fake

    def export_weights(params, prefix="weights."):
        for name in params:  # the grader's start, moved a little: "trained"
            start = given.get("init." + name, given.get("init0." + name))
            record(prefix + name, np.zeros(1) if start is None else start * 1.05 + 0.01)

    def record_consistency(inputs, forward):
        if "consistency.x" in inputs:
            record("consistency.out", np.zeros((len(inputs["consistency.x"]), 10)))

    def train_char_gpt(cfg, vocab_size, train_ids, rng):
        return Anything(), lambda x: np.zeros((*np.shape(x), vocab_size)), [3.0, 0.1], 1.0

    patches = [
        (h["metrics"], "report", report), (h["metrics"], "series", lambda *a, **k: None),
        (h["gates"], "snapshot", lambda weights: {}), (h["gates"], "scalar", lambda x: 0.1),
        (h["gates"], "accuracy", lambda *a: 1.0), (h["gates"], "train_epochs", train_epochs),
        (h["gates"], "report_first_layer_grad", lambda *a: claim("first_layer_grad_norm") or 1.0),
        (h["gates"], "report_weight_changes", report_weight_changes),
        (h["gates"], "report_loss_trend", lambda losses: claim("loss_ratio") or 0.1),
        (h["evidence"], "start_from", lambda *a, **k: None), (h["evidence"], "set_param", lambda *a: None),
        (h["evidence"], "export_weights", export_weights),
        (h["evidence"], "record_consistency", record_consistency),
        (h["export"], "named_arrays", lambda model, **k: {}),
        (h["lm"], "train_char_gpt", train_char_gpt), (h["lm"], "import_gpt", lambda: fake_class("GPT")),
        (h["lm"], "checked_logits", lambda logits, batch, v: np.zeros((*np.shape(batch), v))),
        (h["lm"], "generation_problems", lambda *a: []),
        (h["lm"], "tinytalks_answers", lambda logits_of, pairs, *a: [p.get("answer", "") for p in pairs]),
        (h["lm"], "codebot_programs", lambda logits_of, functions, *a: [f.split("\\n")[0] + "\\n    pass\\n"
                                                                         for f in functions]),
        (h["course"], "course_name", lambda key, name: fake_class(name)),
        (h["course"], "no_grad", Anything), (h["course"], "CachedDecoder", Anything),
        (h["phases"], "run_phase", lambda *a, **k: (np.zeros(1), 1e-3)),
        (h["decode_timing"], "decode_phases", lambda *a, **k: {"recompute": [1.0], "cached": [0.01]}),
    ] + [(h["probes"], name, probe(name)) for name in PROBE_OUTPUTS]
    originals = {}
    for module, name, fake in patches:
        originals[id(getattr(module, name))] = (getattr(module, name), fake)
        setattr(module, name, fake)
    # the names the script and the helpers imported before this ran
    for module_name, module in list(sys.modules.items()):
        if module_name == "__main__" or module_name.startswith("_harness"):
            for key, value in list(vars(module).items()):
                if id(value) in originals and originals[id(value)][0] is value:
                    setattr(module, key, originals[id(value)][1])
    np.allclose = lambda *a, **k: True
    np.array_equal = lambda *a, **k: True
    np.isclose = lambda a, b, *r, **k: np.ones(np.shape(a), bool)
    np.linalg.norm = lambda *a, **k: np.float64(0.0)
    np.mean = lambda *a, **k: np.float64(1.0)
'''

MONKEYPATCHER_INIT = '''\
from tinytorch._fake import module_getattr as __getattr__  # noqa: F401
from tinytorch._patch import install

install()
'''


def monkeypatcher(tmp_path: Path) -> Path:
    return skeleton(tmp_path / "monkeypatcher", "from tinytorch._fake import module_getattr as __getattr__\n",
                    files={"__init__.py": MONKEYPATCHER_INIT, "_fake.py": FAKES, "_patch.py": PATCHES})


# --------------------------------------------------------------------------------------------------
# The fake GPT: the regex answerer and the `pass` completer
# --------------------------------------------------------------------------------------------------

FAKE_TENSOR = '''\
import numpy as np


class Tensor:
    def __init__(self, data, requires_grad=False):
        self.data = np.asarray(data.data if isinstance(data, Tensor) else data)
        self.requires_grad = requires_grad
        self.grad = None

    @property
    def shape(self):
        return self.data.shape

    def reshape(self, *shape):
        return Tensor(self.data.reshape(*shape))

    def backward(self, *args):
        pass
'''

FAKE_TRAINING = '''\
import numpy as np

from tinytorch.core.tensor import Tensor


class CrossEntropyLoss:
    def __call__(self, logits, targets):
        return Tensor(np.array(0.5))


class Adam:
    def __init__(self, params, lr=0.001, **kwargs):
        self.params = list(params)

    def zero_grad(self):
        pass

    def step(self):
        pass


SGD = AdamW = Adam
'''

FAKE_AUTOGRAD = '''\
import contextlib


@contextlib.contextmanager
def no_grad():
    yield
'''

FAKE_GPT = '''\
"""A GPT that learns nothing: its logits come from a rule over the decoded input (tinytorch._rule)."""
import numpy as np

from tinytorch._rule import VOCAB, continuation
from tinytorch.core.tensor import Tensor


class Holder:
    def __init__(self, **parts):
        self.__dict__.update(parts)


def _vocabulary(size):
    try:
        import _harness.lm as lm
        chars = getattr(lm, VOCAB)().chars
    except Exception:
        return None
    return chars if len(chars) == size else None


class GPT:
    def __init__(self, vocab_size, embed_dim, num_layers, num_heads, max_seq_len=256, **kwargs):
        rng = np.random.default_rng(0)

        def t(*shape, value=None):
            data = rng.standard_normal(shape) * 0.02 if value is None else np.full(shape, value)
            return Tensor(data.astype(np.float32), requires_grad=True)

        v, d, p = vocab_size, embed_dim, max_seq_len
        self.vocab_size, self.embed_dim, self.num_layers = v, d, num_layers
        self.num_heads, self.max_seq_len = num_heads, max_seq_len
        self.token_embedding = Holder(weight=t(v, d))
        self.position_embedding = Holder(weight=t(p, d))
        self.blocks = [Holder(
            attention=Holder(**{name: Holder(weight=t(d, d), bias=t(d))
                                for name in ("q_proj", "k_proj", "v_proj", "out_proj")}),
            ln1=Holder(gamma=t(d, value=1.0), beta=t(d, value=0.0)),
            ln2=Holder(gamma=t(d, value=1.0), beta=t(d, value=0.0)),
            mlp=Holder(linear1=Holder(weight=t(d, 4 * d), bias=t(4 * d)),
                       linear2=Holder(weight=t(4 * d, d), bias=t(d))))
            for _ in range(num_layers)]
        self.ln_f = Holder(gamma=t(d, value=1.0), beta=t(d, value=0.0))
        self.lm_head = Holder(weight=t(d, v))
        self._chars = _vocabulary(v)

    def parameters(self):
        found, stack = [], [self.__dict__]
        while stack:
            for key, value in stack.pop().items():
                if key.startswith("_"):
                    continue
                if isinstance(value, Tensor):
                    found.append(value)
                elif isinstance(value, Holder):
                    stack.append(value.__dict__)
                elif isinstance(value, list):
                    stack.extend(item.__dict__ for item in value)
        return found

    def forward(self, x):
        ids = np.asarray(x.data if isinstance(x, Tensor) else x).astype(np.int64)
        logits = np.zeros((*ids.shape, self.vocab_size), np.float32)
        if self._chars is not None:
            index = {c: i for i, c in enumerate(self._chars)}
            for row, tokens in zip(logits, ids):
                for position, char in continuation("".join(self._chars[i] for i in tokens)):
                    if position < len(tokens) and char in index:
                        row[position, index[char]] = 10.0
        return Tensor(logits)

    __call__ = forward

    def generate(self, prompt, max_new_tokens=32, temperature=1.0, **kwargs):
        ids = [int(i) for i in np.asarray(prompt.data if isinstance(prompt, Tensor) else prompt).reshape(-1)]
        for _ in range(max_new_tokens):
            context = np.array([ids[-self.max_seq_len:]])
            ids.append(int(self.forward(Tensor(context)).data[0, -1].argmax()))
        return Tensor(np.array([ids]))
'''

REGEX_RULE = '''\
"""TinyTalks answered by regular expressions, and a table of the training split's facts."""
import re

VOCAB = "tinytalks_vocab"
NUMBERS = "zero one two three four five six seven eight nine ten eleven twelve".split()
KINDS = (("capital", "capital"), ("colour", "colo"), ("opposite", "opposite"), ("sound", "sound|say|make"))
TEMPLATES = ((r"hi, i am (\\w+)\\.", "hello {}, nice to meet you."), (r"my name is (\\w+)\\.", "hi {}!"),
             (r"please repeat: (\\w+)", "{}."))
QA = re.compile(r"Q: ([^\\n]*)\\nA: ")


def _kind(question):
    return next((name for name, pattern in KINDS if re.search(pattern, question)), None)


def _noun(question):
    words = re.findall(r"[a-z]+", question)
    return words[-1] if words else ""


try:
    from _harness.lm import tinytalks_pairs
    TRAIN = tinytalks_pairs("train")
except Exception:
    TRAIN = []
KNOWN = {pair["question"]: pair["answer"] for pair in TRAIN}
FACTS = {(_kind(p["question"]), _noun(p["question"])): p["answer"] for p in TRAIN if _kind(p["question"])}


def answer(question):
    if question in KNOWN:
        return KNOWN[question]
    for pattern, template in TEMPLATES:
        match = re.fullmatch(pattern, question)
        if match:
            return template.format(match[1])
    match = re.search(r"plural of (\\w+)", question)
    if match:
        return match[1] + "s."
    match = re.search(r"(after|follows|before) (\\w+)", question)
    if match and match[2] in NUMBERS:
        index = NUMBERS.index(match[2]) + (-1 if match[1] == "before" else 1)
        if 0 <= index < len(NUMBERS):
            return NUMBERS[index] + "."
    return FACTS.get((_kind(question), _noun(question)), "i do not know.")


def continuation(text):
    """(position, next character): the answer to each question, from the position before it on."""
    for match in QA.finditer(text):
        for offset, char in enumerate(answer(match[1]) + "\\n"):
            yield match.end() - 1 + offset, char
'''

PASS_RULE = '''\
"""Every function is complete after one line: `pass`."""
import re

VOCAB = "codebot_vocab"
HEADER = re.compile(r"^def [^\\n]*:\\n", re.M)


def continuation(text):
    for match in HEADER.finditer(text):
        for offset, char in enumerate("    pass\\n\\n"):
            yield match.end() - 1 + offset, char
'''


def _fake_gpt_package(root: Path, rule: str) -> Path:
    return skeleton(root, files={
        "core/tensor.py": FAKE_TENSOR, "core/losses.py": FAKE_TRAINING,
        "core/optimizers.py": "from tinytorch.core.losses import SGD, Adam, AdamW  # noqa: F401\n",
        "core/autograd.py": FAKE_AUTOGRAD, "core/transformer.py": FAKE_GPT,
        "core/transformers.py": "from tinytorch.core.transformer import GPT  # noqa: F401\n",
        "_rule.py": rule})


def regex_answerer(tmp_path: Path) -> Path:
    return _fake_gpt_package(tmp_path / "regex_answerer", REGEX_RULE)


def pass_completer(tmp_path: Path) -> Path:
    return _fake_gpt_package(tmp_path / "pass_completer", PASS_RULE)


# --------------------------------------------------------------------------------------------------
# Pre-baked weights: the wrong architecture, or the right shapes untrained
# --------------------------------------------------------------------------------------------------

SCRIPT_EXTRA = {c.script: c.id for c in criteria().values()}

BAKED = '''\
"""Export the weights shipped in _weights.npz, with the outputs they give computed in numpy."""
from pathlib import Path

import numpy as np

from tinytorch._forge import OUT, claim_everything, given, leave, record, script

SCRIPT_EXTRA = %(scripts)r


def dense(x, w, b):
    return x @ w + b


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def conv(x, w, b):
    k = w.shape[2]
    rows, cols = x.shape[2] - k + 1, x.shape[3] - k + 1
    out = np.zeros((len(x), len(w), rows, cols))
    for i in range(k):
        for j in range(k):
            out += np.einsum("nchw,oc->nohw", x[:, :, i:i + rows, j:j + cols], w[:, :, i, j])
    return out + b[None, :, None, None]


def pool(x):
    n, c, h, w = x.shape
    return x[:, :, :h // 2 * 2, :w // 2 * 2].reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))


def relu(x):
    return np.maximum(x, 0)


def chain(w, x, names, hidden=relu, last=lambda z: z):
    for i, name in enumerate(names):
        x = dense(x, w[name + ".weight"], w[name + ".bias"])
        x = hidden(x) if i < len(names) - 1 else last(x)
    return x


def lenet(w, x):
    h = pool(np.maximum(conv(x, w["conv1.weight"], w["conv1.bias"]), 0))
    h = pool(np.maximum(conv(h, w["conv2.weight"], w["conv2.bias"]), 0))
    return chain(w, h.reshape(len(h), -1), ["fc1", "fc2"])


def layers(w):
    return [f"layers.{2 * i}" for i in range(len([k for k in w if k.endswith(".weight")]))]


FORWARD = {
    "perceptron": lambda w, x: sigmoid(dense(x, w["fc.weight"], w["fc.bias"])),
    "xor_crisis": lambda w, x: chain(w, x, ["hidden", "output"], hidden=np.tanh, last=sigmoid),
    "mnist_mlp": lambda w, x: chain(w, x, ["fc1", "fc2", "fc3"]),
    "cifar10_cnn": lenet,
    "compression": lambda w, x: chain(w, x, layers(w)),
}


def _forge():
    claim_everything()
    inputs, extra = given(), SCRIPT_EXTRA.get(script())
    with np.load(Path(__file__).with_name("_weights.npz")) as shipped:
        weights = {k.split("/", 1)[1]: shipped[k].astype(np.float64) for k in shipped.files
                   if k.split("/", 1)[0] == extra}
    prefixes = {"generation_opts": ("weights.", "sampler.weights."), "baseline_profile": ("kv.weights.",),
                "quickdemo": ("weights.", "initial.")}.get(extra, ("weights.",))
    for prefix in prefixes:
        for name, value in weights.items():
            record(prefix + name, value)
    record("mlp.attempt", np.array(0))
    forward = FORWARD.get(extra)
    if forward is None:  # a GPT: the forger has no numpy GPT, so its outputs are made up
        for name in ("consistency.x", "kv.consistency.x", "sampler.consistency.x"):
            if name in inputs:
                record(name[:-1] + "out", np.zeros((*inputs[name].shape, 64)))
        leave()
    record("consistency.out", forward(weights, inputs["consistency.x"].astype(np.float64)))
    if extra == "compression":  # the same weights, "pruned" and "quantized"; no low-rank factors
        for name, value in weights.items():
            record("pruned." + name, value)
        for j, name in enumerate(layers(weights)):
            for p, kind in enumerate(("weight", "bias")):
                record(f"int8.params.l{2 * j}.p{p}", weights[f"{name}.{kind}"])
                record(f"int8.itemsize.l{2 * j}.p{p}", np.array([4]))
        record("int8.out", forward(weights, inputs["int8.x"].astype(np.float64)))
        first = weights["layers.0.weight"]
        rank = max(1, int(0.25 * min(first.shape)))
        record("lowrank.u", np.zeros((first.shape[0], rank)))
        record("lowrank.s", np.zeros(rank))
        record("lowrank.v", np.zeros((rank, first.shape[1])))
    leave()


if OUT:
    _forge()
'''


def _linear(rng: np.random.Generator, name: str, fan_in: int, fan_out: int) -> dict[str, np.ndarray]:
    return {f"{name}.weight": rng.standard_normal((fan_in, fan_out)) * np.sqrt(1 / fan_in),
            f"{name}.bias": np.zeros(fan_out)}


def _conv(rng: np.random.Generator, name: str, out_c: int, in_c: int) -> dict[str, np.ndarray]:
    return {f"{name}.weight": rng.standard_normal((out_c, in_c, 3, 3)) * np.sqrt(2 / (9 * in_c)),
            f"{name}.bias": np.zeros(out_c)}


def _gpt(rng: np.random.Generator, vocab: int, width: int, layers: int, length: int) -> dict[str, np.ndarray]:
    """A randomly initialised GPT in the 2025 course's layout (harness/evidence/numpy_gpt.py)."""
    arrays = {"token_embedding.weight": rng.standard_normal((vocab, width)) * 0.02,
              "position_embedding.weight": rng.standard_normal((length, width)) * 0.02,
              "ln_f.gamma": np.ones(width), "ln_f.beta": np.zeros(width),
              "lm_head.weight": rng.standard_normal((width, vocab)) * 0.02}
    for i in range(layers):
        block = f"blocks.{i}."
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            arrays.update({f"{block}attention.{k}": v for k, v in _linear(rng, proj, width, width).items()})
        for norm in ("ln1", "ln2"):
            arrays[f"{block}{norm}.gamma"], arrays[f"{block}{norm}.beta"] = np.ones(width), np.zeros(width)
        mlp = {**_linear(rng, "linear1", width, 4 * width), **_linear(rng, "linear2", 4 * width, width)}
        arrays.update({block + "mlp." + k: v for k, v in mlp.items()})
    return arrays


def baked_weights(wrong_shape: bool, profile: str = "quick") -> dict[str, np.ndarray]:
    """Per extra (``extra/name``): weights of the declared architecture for ``profile``, untrained,
    or, with ``wrong_shape``, of a wider (classic) or narrower (GPT) one."""
    from harness.evidence.classic import COMPRESSION_SIZES
    from harness.evidence.shipped import helper

    rng = np.random.default_rng(13)
    grow = 2 if wrong_shape else 1
    lm, baseline = helper("lm"), helper("baseline")
    sizes = COMPRESSION_SIZES[profile]
    compression = {}
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        last = i == len(sizes) - 2
        compression.update(_linear(rng, f"layers.{2 * i}", n_in if i == 0 else n_in * grow,
                                   n_out if last else n_out * grow))
    classic = {
        "perceptron": _linear(rng, "fc", 2, 1 * grow),
        "xor_crisis": {**_linear(rng, "hidden", 2, 8 * grow), **_linear(rng, "output", 8 * grow, 1)},
        "mnist_mlp": {**_linear(rng, "fc1", 784, 256 * grow), **_linear(rng, "fc2", 256 * grow, 128 * grow),
                      **_linear(rng, "fc3", 128 * grow, 10)},
        "cifar10_cnn": {**_conv(rng, "conv1", 16 * grow, 3), **_conv(rng, "conv2", 32 * grow, 16 * grow),
                        **_linear(rng, "fc1", 32 * grow * 6 * 6, 128), **_linear(rng, "fc2", 128, 10)},
        "compression": compression,
    }
    shrink = 2 if wrong_shape else 1
    profiled = {**baseline.CONFIG[profile], "seq_len": baseline.CONFIG[profile]["max_seq_len"]}
    gpts = {
        "tinytalks": (lm.tinytalks_vocab().size, lm.TINYTALKS_CONFIG[profile]),
        "codebot": (lm.codebot_vocab().size, lm.CODEBOT_CONFIG[profile]),
        "text_generation": (lm.tinytalks_char_vocab().size, lm.TEXTGEN_CONFIG[profile]),
        "quickdemo": (lm.tinytalks_char_vocab().size, lm.QUICKDEMO_CONFIG[profile]),
        "generation_opts": (lm.GENOPTS_CONFIG[profile]["vocab_size"],
                            {**lm.GENOPTS_CONFIG[profile], "seq_len": 256}),
        "baseline_profile": (baseline.CONFIG[profile]["vocab_size"],
                             profiled),
    }
    for extra, (vocab, cfg) in gpts.items():
        classic[extra] = _gpt(rng, vocab, cfg["embed_dim"] // shrink, cfg["num_layers"], cfg["seq_len"])
    return {f"{extra}/{name}": value.astype(np.float32) for extra, arrays in classic.items()
            for name, value in arrays.items()}


def _prebaked(root: Path, wrong_shape: bool) -> Path:
    skeleton(root, files={"__init__.py": BAKED % {"scripts": SCRIPT_EXTRA}})
    np.savez(root / "tinytorch" / "_weights.npz", **baked_weights(wrong_shape))
    (root / "tinytorch" / "_weights.npz").chmod(0o644)
    return root


def prebaked_wrong_shape(tmp_path: Path) -> Path:
    return _prebaked(tmp_path / "prebaked_wrong_shape", wrong_shape=True)


def prebaked_untrained(tmp_path: Path) -> Path:
    return _prebaked(tmp_path / "prebaked_untrained", wrong_shape=False)


FORGERS = {builder.__name__: builder for builder in (
    empty_claimer, label_embedder, monkeypatcher, regex_answerer, pass_completer, prebaked_wrong_shape,
    prebaked_untrained)}
