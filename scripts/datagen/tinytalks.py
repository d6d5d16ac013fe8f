"""Generate the TinyTalks question/answer dataset (deterministic, stdlib only).

Run from anywhere: ``python scripts/datagen/tinytalks.py``. It rewrites
``train.jsonl``, ``val.jsonl`` and ``test.jsonl`` in ``extras/data/tinytalks/``, and the held-out answer
key ``criteria/sample-secrets/references/tinytalks_test_answers.json``; the output is byte-identical on every
run (fixed seed, sorted inputs).

Each line of train/val is ``{"category": ..., "question": ..., "answer": ...}``; test lines
carry no answer (``{"category": ..., "question": ...}``): the answers, in the same order, are a
JSON list of strings kept beside the criteria, which are never mounted into the sandbox, so the
host scores the extra's answers (``scorer: exact_match``). Two kinds of patterns:
- fact patterns (colours, opposites, animal sounds, counting, capitals): every fact
  is asked with several phrasings. A held-out pair always uses a fact the training
  split shows in another phrasing, and a phrasing the training split shows with
  other facts, so a model can answer it by combining what it learned;
- copy patterns (greetings, echoes, plurals): held-out pairs use new names and
  words, so the model must copy from the question rather than recall.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 2026
REPO = Path(__file__).resolve().parents[2]
OUT_DIR = REPO / "extras" / "data" / "tinytalks"  # mounted into the sandbox; this generator is not
ANSWER_KEY = REPO / "criteria" / "sample-secrets" / "references" / "tinytalks_test_answers.json"

COLOURS = {
    "banana": "yellow", "lemon": "yellow", "grass": "green", "leaf": "green", "frog": "green",
    "sky": "blue", "sea": "blue", "snow": "white", "cloud": "white", "milk": "white",
    "coal": "black", "crow": "black", "cherry": "red", "tomato": "red", "strawberry": "red",
    "carrot": "orange", "pumpkin": "orange", "plum": "purple", "grape": "purple", "chocolate": "brown",
}
COLOUR_TEMPLATES = ["what color is a {x}?", "what is the color of a {x}?", "tell me the color of a {x}."]

OPPOSITES = {
    "hot": "cold", "big": "small", "fast": "slow", "up": "down", "day": "night", "old": "new",
    "happy": "sad", "light": "dark", "open": "closed", "early": "late", "full": "empty",
    "wet": "dry", "tall": "short", "hard": "soft", "loud": "quiet", "near": "far",
}
OPPOSITE_TEMPLATES = ["what is the opposite of {x}?", "say the opposite of {x}.", "opposite of {x}?"]

SOUNDS = {
    "cow": "moo", "dog": "woof", "cat": "meow", "duck": "quack", "sheep": "baa", "owl": "hoot",
    "pig": "oink", "bee": "buzz", "snake": "hiss", "lion": "roar", "horse": "neigh", "mouse": "squeak",
}
SOUND_TEMPLATES = ["what does a {x} say?", "what sound does a {x} make?", "how does a {x} talk?"]

NUMBERS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
AFTER_TEMPLATES = ["what comes after {x}?", "what number follows {x}?"]
BEFORE_TEMPLATES = ["what comes before {x}?", "what number is before {x}?"]

CAPITALS = {
    "france": "paris", "spain": "madrid", "italy": "rome", "japan": "tokyo", "egypt": "cairo",
    "peru": "lima", "kenya": "nairobi", "norway": "oslo", "chile": "santiago", "canada": "ottawa",
}
CAPITAL_TEMPLATES = ["what is the capital of {x}?", "name the capital of {x}.",
                     "which city is the capital of {x}?"]

NAMES = [
    "ada", "alan", "amir", "anna", "ben", "carla", "dev", "dora", "eli", "emma", "finn", "gia",
    "hugo", "ida", "ivan", "jade", "kai", "lena", "leo", "maya", "max", "nia", "noah", "omar",
    "pia", "raj", "rosa", "sam", "sara", "tom", "uma", "vera", "wes", "yara", "zoe", "kim",
    "luis", "mina", "otto", "ruth",
]
GREETING_TEMPLATES = [("hi, i am {x}.", "hello {x}, nice to meet you."), ("my name is {x}.", "hi {x}!")]

WORDS = [
    "apple", "river", "stone", "music", "paper", "dream", "light", "sugar", "ocean", "tiger",
    "candle", "garden", "pencil", "rocket", "window", "silver", "bridge", "forest", "planet", "button",
    "cookie", "dragon", "island", "jacket", "kitten", "lizard", "marble", "needle", "orange", "pepper",
]
SYLLABLES = ["ba", "bo", "da", "di", "fe", "fu", "ga", "ki", "ko", "la", "le", "lu", "ma", "mi", "mo", "na",
             "ne", "po", "ra", "ri", "ro", "sa", "se", "su", "ta", "ti", "to", "va", "ve", "zo"]
ECHO_TEMPLATE = ("please repeat: {x}", "{x}.")
PLURAL_TEMPLATE = ("what is the plural of {x}?", "{x}s.")

SMALL_TALK = [
    ("how are you?", "i am fine, thank you."),
    ("good morning!", "good morning to you too."),
    ("good night!", "sleep well."),
    ("thank you!", "you are welcome."),
    ("what is your name?", "i am tinytalks."),
    ("are you a robot?", "i am a tiny model."),
    ("do you like music?", "yes, i like music."),
    ("goodbye!", "bye, see you soon."),
]


def fact_rows(category: str, facts: dict, templates: list[str]) -> list[list[dict]]:
    """One group per fact: the fact asked with every phrasing."""
    return [
        [{"category": category, "question": t.format(x=key), "answer": f"{value}.", "template": i}
         for i, t in enumerate(templates)]
        for key, value in sorted(facts.items())
    ]


def counting_groups() -> list[list[dict]]:
    groups = []
    for i in range(len(NUMBERS) - 1):
        low, high = NUMBERS[i], NUMBERS[i + 1]
        groups.append([{"category": "counting", "question": t.format(x=low), "answer": f"{high}.",
                        "template": j} for j, t in enumerate(AFTER_TEMPLATES)])
        groups.append([{"category": "counting", "question": t.format(x=high), "answer": f"{low}.",
                        "template": 2 + j} for j, t in enumerate(BEFORE_TEMPLATES)])
    return groups


def split_fact_groups(groups: list[list[dict]], rng: random.Random, held_out_share: float):
    """Hold out one phrasing of some facts; the fact stays in training through its other phrasings."""
    train, held = [], []
    for group in groups:
        group = list(group)
        rng.shuffle(group)
        if len(group) > 1 and rng.random() < held_out_share * len(group):
            held.append(group.pop())
        train.extend(group)
    return train, held


def copy_rows(category: str, values: list[str], templates: list[tuple[str, str]]) -> list[dict]:
    return [{"category": category, "question": q.format(x=v), "answer": a.format(x=v), "template": i}
            for v in values for i, (q, a) in enumerate(templates)]


def made_up_words(rng: random.Random, count: int, syllables: int) -> list[str]:
    """Pronounceable nonsense ("kolu", "miraso"): copy patterns cannot be solved by memorising."""
    words: set[str] = set()
    while len(words) < count:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(syllables)))
    return sorted(words)


def split_copy_values(values: list[str], rng: random.Random, held_out: int) -> tuple[list[str], list[str]]:
    """New names/words for the held-out splits: never seen in training."""
    values = sorted(values)
    rng.shuffle(values)
    return values[held_out:], values[:held_out]


def build(seed: int = SEED) -> dict[str, list[dict]]:
    rng = random.Random(seed)
    groups = (fact_rows("colour", COLOURS, COLOUR_TEMPLATES)
              + fact_rows("opposite", OPPOSITES, OPPOSITE_TEMPLATES)
              + fact_rows("sound", SOUNDS, SOUND_TEMPLATES)
              + fact_rows("capital", CAPITALS, CAPITAL_TEMPLATES)
              + counting_groups())
    train, held = split_fact_groups(groups, rng, held_out_share=0.2)

    names = NAMES + made_up_words(rng, 60, 2)
    echoes = WORDS + made_up_words(rng, 30, 3)
    for category, values, templates, n_held in (
        ("greeting", names, GREETING_TEMPLATES, 12),
        ("echo", echoes, [ECHO_TEMPLATE], 10),
        ("plural", WORDS, [PLURAL_TEMPLATE], 8),
    ):
        seen, unseen = split_copy_values(values, rng, n_held)
        train += copy_rows(category, seen, templates)
        held += copy_rows(category, unseen, templates)

    train += [{"category": "small_talk", "question": q, "answer": a, "template": 0} for q, a in SMALL_TALK]

    rng.shuffle(train)
    rng.shuffle(held)
    half = len(held) // 2
    return {"train": train, "val": held[:half], "test": held[half:]}


def shipped_fields(split: str) -> tuple[str, ...]:
    """The fields written to extras/data: the test split's answers stay on the host."""
    return ("category", "question") if split == "test" else ("category", "question", "answer")


def answer_key_text(test_rows: list[dict]) -> str:
    """The host-only answer key: the test answers in order, one JSON list of strings."""
    return json.dumps([row["answer"] for row in test_rows], indent=1) + "\n"


def main() -> None:
    built = build()
    for split, rows in built.items():
        path = OUT_DIR / f"{split}.jsonl"
        with open(path, "w", encoding="utf-8", newline="\n") as handle:
            for row in rows:
                handle.write(json.dumps({k: row[k] for k in shipped_fields(split)}) + "\n")
        print(f"{path.name}: {len(rows)} pairs")
    ANSWER_KEY.parent.mkdir(parents=True, exist_ok=True)
    ANSWER_KEY.write_text(answer_key_text(built["test"]), encoding="utf-8", newline="\n")
    print(f"{ANSWER_KEY}: {len(built['test'])} answers")


if __name__ == "__main__":
    main()
