"""Generate the CodeBot corpus: many small Python functions (deterministic, stdlib only).

Run from anywhere: ``python scripts/datagen/codebot.py``. It rewrites
``train.txt``, ``val.txt`` and ``test.txt`` in ``extras/data/codebot/``, byte-identical on every
run. Functions are separated by one blank line; each one parses with ``ast.parse``
(checked here before writing). The splits never share a function: held-out functions
combine the same templates with other names, operators and constants.
"""

from __future__ import annotations

import ast
import random
from pathlib import Path

SEED = 2026
OUT_DIR = Path(__file__).resolve().parents[2] / "extras" / "data" / "codebot"

NOUNS = ["price", "score", "count", "total", "value", "speed", "width", "height", "weight", "age",
         "size", "level", "amount", "length", "depth", "rate"]
LISTS = ["items", "values", "numbers", "scores", "prices", "points", "sizes", "ages"]
OPS = [("add", "+"), ("sub", "-"), ("mul", "*")]
COMPARE = [("above", ">"), ("below", "<"), ("at_least", ">="), ("at_most", "<=")]


def arith(rng: random.Random) -> str:
    name, op = rng.choice(OPS)
    a, b = rng.sample(NOUNS, 2)
    return f"def {name}_{a}_{b}({a}, {b}):\n    return {a} {op} {b}\n"


def scale(rng: random.Random) -> str:
    x = rng.choice(NOUNS)
    k = rng.randint(2, 9)
    return f"def scale_{x}_by_{k}({x}):\n    return {x} * {k}\n"


def compare(rng: random.Random) -> str:
    word, op = rng.choice(COMPARE)
    x = rng.choice(NOUNS)
    limit = rng.randint(1, 99)
    return f"def is_{x}_{word}_{limit}({x}):\n    return {x} {op} {limit}\n"


def clamp(rng: random.Random) -> str:
    x = rng.choice(NOUNS)
    lo = rng.randint(0, 9)
    hi = lo + rng.randint(5, 50)
    return (f"def clamp_{x}({x}):\n    if {x} < {lo}:\n        return {lo}\n"
            f"    if {x} > {hi}:\n        return {hi}\n    return {x}\n")


def sum_list(rng: random.Random) -> str:
    xs = rng.choice(LISTS)
    item = xs[:-1]
    return (f"def sum_of_{xs}({xs}):\n    total = 0\n    for {item} in {xs}:\n"
            f"        total += {item}\n    return total\n")


def count_if(rng: random.Random) -> str:
    xs = rng.choice(LISTS)
    item = xs[:-1]
    word, op = rng.choice(COMPARE)
    limit = rng.randint(0, 50)
    return (f"def count_{xs}_{word}_{limit}({xs}):\n    count = 0\n    for {item} in {xs}:\n"
            f"        if {item} {op} {limit}:\n            count += 1\n    return count\n")


def filter_list(rng: random.Random) -> str:
    xs = rng.choice(LISTS)
    item = xs[:-1]
    word, op = rng.choice(COMPARE)
    limit = rng.randint(0, 50)
    return f"def {xs}_{word}_{limit}({xs}):\n    return [{item} for {item} in {xs} if {item} {op} {limit}]\n"


def max_list(rng: random.Random) -> str:
    xs = rng.choice(LISTS)
    item = xs[:-1]
    return (f"def largest_of_{xs}({xs}):\n    best = {xs}[0]\n    for {item} in {xs}:\n"
            f"        if {item} > best:\n            best = {item}\n    return best\n")


def average(rng: random.Random) -> str:
    xs = rng.choice(LISTS)
    return (f"def average_of_{xs}({xs}):\n    if not {xs}:\n        return 0\n"
            f"    return sum({xs}) / len({xs})\n")


def parity(rng: random.Random) -> str:
    x = rng.choice(NOUNS)
    k = rng.choice([2, 3, 5, 10])
    return f"def is_{x}_multiple_of_{k}({x}):\n    return {x} % {k} == 0\n"


def greet(rng: random.Random) -> str:
    word = rng.choice(["hello", "hi", "welcome", "goodbye", "thanks"])
    return f"def say_{word}(name):\n    return \"{word}, \" + name + \"!\"\n"


def square_list(rng: random.Random) -> str:
    xs = rng.choice(LISTS)
    item = xs[:-1]
    power = rng.choice([2, 3])
    return f"def power_{power}_of_{xs}({xs}):\n    return [{item} ** {power} for {item} in {xs}]\n"


TEMPLATES = [arith, scale, compare, clamp, sum_list, count_if, filter_list, max_list, average, parity,
             greet, square_list]


def build(seed: int = SEED, total: int = 420) -> dict[str, list[str]]:
    """Unique functions, dealt into train/val/test by function name."""
    rng = random.Random(seed)
    functions: dict[str, str] = {}
    while len(functions) < total:
        source = rng.choice(TEMPLATES)(rng)
        ast.parse(source)  # every function in the corpus is valid Python
        name = source.split("(", 1)[0]
        functions.setdefault(name, source)
    names = sorted(functions)
    rng.shuffle(names)
    n_val = n_test = total // 10
    return {
        "val": [functions[n] for n in names[:n_val]],
        "test": [functions[n] for n in names[n_val:n_val + n_test]],
        "train": [functions[n] for n in names[n_val + n_test:]],
    }


def main() -> None:
    for split, functions in build().items():
        path = OUT_DIR / f"{split}.txt"
        path.write_text("\n".join(functions), encoding="utf-8", newline="\n")
        print(f"{path.name}: {len(functions)} functions, {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
