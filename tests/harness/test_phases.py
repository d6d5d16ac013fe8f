"""Host-timed phases: the runner reveals sealed inputs on cue and times go -> done with its own clock."""

from __future__ import annotations

import hashlib
import textwrap
import time

import numpy as np
import pytest

from harness.evidence import EvidenceProblem
from harness.evidence.shipped import helper
from harness.evidence.timed import answered, decode_speedup, seal_decoding
from harness.runners.base import Budget, Job, RunResult
from harness.runners.phases import MARK, PhaseServer

DIGEST = "ab" * 32


def line(*parts: str) -> bytes:
    return (" ".join([MARK, *parts]) + "\n").encode()


@pytest.fixture
def server(tmp_path):
    sealed, reveal = tmp_path / "sealed", tmp_path / "in" / "phases"
    sealed.mkdir()
    reveal.mkdir(parents=True)
    for name in ("a", "b"):
        (sealed / f"{name}.setup.npz").write_bytes(f"setup {name}".encode())
        (sealed / f"{name}.go.npz").write_bytes(f"go {name}".encode())
    return PhaseServer(sealed, reveal), reveal


def test_setup_is_revealed_on_ready_and_the_secret_only_on_go(server):
    phases, reveal = server
    phases.feed(line("ready", "a"))
    assert sorted(p.name for p in reveal.iterdir()) == ["a.setup.npz"]
    assert (reveal / "a.setup.npz").read_bytes() == b"setup a"
    phases.feed(line("go", "a"))
    assert (reveal / "a.go.npz").read_bytes() == b"go a"
    assert (reveal / "a.go.npz").stat().st_mode & 0o777 == 0o644
    time.sleep(0.05)
    phases.feed(line("done", "a", DIGEST))
    timing = phases.timings["a"]
    assert timing["digest"] == DIGEST and 0.05 <= timing["seconds"] < 5


def test_lines_split_across_chunks_are_read_whole(server):
    phases, reveal = server
    stream = b"plain output\n" + line("ready", "b") + line("go", "b") + line("done", "b", DIGEST)
    for i in range(0, len(stream), 7):
        phases.feed(stream[i:i + 7])
    assert phases.timings["b"]["digest"] == DIGEST and not phases.notes


def test_out_of_order_unknown_and_malformed_lines_are_ignored_and_noted(server):
    phases, reveal = server
    phases.feed(line("go", "a"))  # before ready: the secret stays sealed
    phases.feed(line("done", "a", DIGEST))
    phases.feed(line("ready", "zzz"))  # no such phase
    phases.feed((MARK + " ready ../../etc\n").encode())
    assert not any(reveal.iterdir()) and phases.timings == {}
    assert len(phases.notes) == 4
    for verb in ("ready", "go"):
        phases.feed(line(verb, "a"))
    phases.feed(line("done", "a", DIGEST))
    first = dict(phases.timings["a"])
    phases.feed(line("done", "a", "cd" * 32))  # a second answer changes nothing
    assert phases.timings["a"] == first


def test_record_into_keeps_timings_and_drops_the_protocol_from_stdout(server):
    phases, _ = server
    for verb in ("ready", "go"):
        phases.feed(line(verb, "a"))
    phases.feed(line("done", "a", DIGEST))
    phases.feed(line("go", "b"))
    result = RunResult("j", stdout=f"hello\n{MARK} ready a\nworld\n")
    phases.record_into(result)
    assert result.stdout == "hello\nworld\n" and set(result.phases) == {"a"}
    assert "out of order" in result.stderr


PHASE_SCRIPT = textwrap.dedent("""\
    import hashlib, os, time
    MARK = "\\x1eharness-phase"
    revealed = os.path.join(os.environ["HARNESS_IN"], "phases")

    def say(*parts):
        print(MARK, *parts, flush=True)

    def wait(name):
        path = os.path.join(revealed, name)
        while not os.path.exists(path):
            time.sleep(0.001)
        with open(path, "rb") as handle:
            return handle.read()

    say("ready", "a")
    wait("a.setup.npz")
    secret_early = os.path.exists(os.path.join(revealed, "a.go.npz"))
    time.sleep(1.0)  # untimed preparation
    say("go", "a")
    secret = wait("a.go.npz")
    time.sleep(0.2)  # the timed work
    say("done", "a", hashlib.sha256(secret).hexdigest())
    print("secret visible before go:", secret_early)
""")


def test_a_run_is_timed_by_the_runner_from_go_to_done(runner, project, tmp_path, run_results):
    (project.extras / "phased.py").write_text(PHASE_SCRIPT)
    inputs, sealed = tmp_path / "in", tmp_path / "sealed"
    inputs.mkdir(mode=0o755)
    sealed.mkdir(mode=0o700)
    (sealed / "a.setup.npz").write_bytes(b"prompt")
    (sealed / "a.go.npz").write_bytes(b"secret suffix")
    job = Job("s/phased", "phased", "phased.py", project.extras, project.submission,
              budget=Budget(wall_seconds=60), inputs=inputs, phases=sealed)
    result = run_results(runner.run(job))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "secret visible before go: False"
    timing = result.phases["a"]
    assert timing["digest"] == hashlib.sha256(b"secret suffix").hexdigest()
    assert 0.2 <= timing["seconds"] < 1.0  # the sleep after go, not the one before it


def test_a_job_without_sealed_phases_reveals_nothing(runner, project, tmp_path, run_results):
    (project.extras / "phased.py").write_text(PHASE_SCRIPT.replace("time.sleep(1.0)", "raise SystemExit(3)"))
    inputs = tmp_path / "in"
    inputs.mkdir(mode=0o755)
    job = Job("s/phased", "phased", "phased.py", project.extras, project.submission,
              budget=Budget(wall_seconds=5), inputs=inputs)
    result = run_results(runner.run(job))
    assert result.timed_out and result.phases == {}


# --- the host's side: answers verified before their time counts ----------------------------------

VOCAB = 7


def next_token_logits(ids: np.ndarray) -> np.ndarray:
    """A toy model whose greedy choice after token t is (t + 1) % VOCAB."""
    out = np.zeros((*ids.shape, VOCAB))
    out[..., :] = -1.0
    np.put_along_axis(out, ((ids + 1) % VOCAB)[..., None], 1.0, axis=-1)
    return out


def greedy_answers(sealed, new_tokens):
    answers = {}
    for name, (setup, go) in sealed.items():
        ids = [*setup["prompt"].tolist(), *go["suffix"].tolist()]
        for _ in range(new_tokens):
            ids.append((ids[-1] + 1) % VOCAB)
        answers[name] = np.array(ids, dtype=np.int64)
    return answers


def timed(answers, seconds):
    digest = helper("phases").answer_digest
    return ({f"phase.{name}": answer for name, answer in answers.items()},
            {name: {"seconds": seconds(name), "digest": digest(answer)} for name, answer in answers.items()})


@pytest.fixture
def decoding():
    sealed = seal_decoding(np.random.default_rng(0), vocab=VOCAB, prompt_len=5, rounds=3)
    return sealed, greedy_answers(sealed, new_tokens=6)


def test_the_speedup_is_best_recomputing_over_best_cached_runner_time(decoding):
    sealed, answers = decoding
    times = {"decode.recompute.0": 2.0, "decode.recompute.1": 1.5, "decode.recompute.2": 3.0,
             "decode.cached.0": 0.5, "decode.cached.1": 0.3, "decode.cached.2": 0.25}
    evidence, timings = timed(answers, times.__getitem__)
    value, note = decode_speedup(evidence, sealed, timings, 6, next_token_logits)
    assert value == pytest.approx(1.5 / 0.25) and "best of 3" in note


def test_a_wrong_token_voids_the_timing(decoding):
    sealed, answers = decoding
    answers["decode.cached.1"][-2] = (answers["decode.cached.1"][-3] + 3) % VOCAB
    evidence, timings = timed(answers, lambda name: 1.0)
    with pytest.raises(EvidenceProblem, match="decode.cached.1.*new token 5"):
        decode_speedup(evidence, sealed, timings, 6, next_token_logits)


def test_an_answer_other_than_the_announced_one_voids_the_timing(decoding):
    sealed, answers = decoding
    evidence, timings = timed(answers, lambda name: 1.0)
    timings["decode.recompute.2"] = {**timings["decode.recompute.2"], "digest": "0" * 64}
    with pytest.raises(EvidenceProblem, match="not the one announced"):
        decode_speedup(evidence, sealed, timings, 6, next_token_logits)


def test_a_phase_the_runner_never_timed_is_named(decoding):
    sealed, answers = decoding
    evidence, timings = timed(answers, lambda name: 1.0)
    del timings["decode.cached.0"]
    with pytest.raises(EvidenceProblem, match="never timed by the runner"):
        answered("decode.cached.0", evidence, timings)


def test_an_answer_that_ignores_the_revealed_suffix_is_refused(decoding):
    sealed, answers = decoding
    sealed = dict(sealed)
    setup, go = sealed["decode.recompute.0"]
    sealed["decode.recompute.0"] = (setup, {"suffix": (go["suffix"] + 1) % VOCAB})
    evidence, timings = timed(answers, lambda name: 1.0)
    with pytest.raises(EvidenceProblem, match="revealed prompt and suffix"):
        decode_speedup(evidence, sealed, timings, 6, next_token_logits)
