"""CharTokenizer and BPETokenizer: vocabularies, round-trips, the <unk> policy."""

import re
from collections import Counter

import numpy as np
import pytest

from tinytorch.core.tokenization import UNK_ID, UNK_TOKEN, BPETokenizer, CharTokenizer

CORPUS = "the cat sat on the mat. the cat ate the rat! then the cat sat again.\n" * 3


def test_char_vocab_is_unk_then_sorted_characters():
    tok = CharTokenizer().build_vocab("hello")
    assert tok.vocab == [UNK_TOKEN, "e", "h", "l", "o"] and tok.vocab_size == 5
    assert tok.encode("hole") == [2, 4, 3, 1]
    assert CharTokenizer(list("olleh")).vocab == [UNK_TOKEN, "o", "l", "e", "h"]  # given order kept
    assert UNK_TOKEN == "<UNK>" and UNK_ID == 0
    assert CharTokenizer().build_vocab(["ab", "c"]).vocab_size == 5  # "\n" joins the list


def test_char_round_trip_and_unknown_chars():
    tok = CharTokenizer().build_vocab(CORPUS)
    text = "the rat sat on the cat."
    assert tok.decode(tok.encode(text)) == text
    ids = tok.encode("cat?Z")
    assert ids[3] == UNK_ID and ids[4] == UNK_ID
    assert tok.decode(ids) == "cat" + UNK_TOKEN * 2
    assert tok.decode(np.array(tok.encode("mat"))) == "mat"  # arrays decode too


def test_char_errors():
    tok = CharTokenizer().build_vocab("ab")
    with pytest.raises(ValueError, match=r"outside the vocabulary \[0, 3\)"):
        tok.decode([1, 7])
    with pytest.raises(TypeError, match="expects a string"):
        tok.encode(["a"])
    with pytest.raises(TypeError, match="corpus must be a string"):
        tok.build_vocab(42)


def test_bpe_learns_merges_and_compresses():
    bpe = BPETokenizer(vocab_size=32).train(CORPUS)
    assert bpe.vocab_size == 32
    assert bpe.merges[0] == ("a", "t")  # the most frequent pair of the corpus
    assert " the" in bpe.vocab and " cat" in bpe.vocab
    chars = CharTokenizer().build_vocab(CORPUS)
    assert len(bpe.encode(CORPUS)) < 0.5 * len(chars.encode(CORPUS))


@pytest.mark.parametrize("text", [CORPUS, "the mat sat on a rat", "  cats\n\nate\tthe mat!!", ""])
def test_bpe_round_trip(text):
    bpe = BPETokenizer(vocab_size=60).train(CORPUS + "\t")
    assert bpe.decode(bpe.encode(text)) == text


def test_bpe_unknown_chars_and_errors():
    bpe = BPETokenizer(vocab_size=30).train(CORPUS)
    ids = bpe.encode("cat€")
    assert ids[-1] == UNK_ID and bpe.decode(ids) == "cat" + UNK_TOKEN
    with pytest.raises(RuntimeError, match="before train"):
        BPETokenizer(10).encode("x")
    with pytest.raises(ValueError, match="vocab_size must be >= 2"):
        BPETokenizer(1)


def test_bpe_stops_when_no_pair_repeats():
    bpe = BPETokenizer(vocab_size=1000).train("abcabc")
    assert bpe.vocab_size < 1000
    assert bpe.encode("abcabc") == [bpe.token_to_id["abc"]] * 2


def naive_bpe_merges(chunks, n_merges):
    """Textbook BPE: recount every pair after every merge; ties go to the larger pair."""
    words = {c: list(c) for c in chunks}
    counts = Counter(chunks)
    merges = []
    for _ in range(n_merges):
        pairs = Counter()
        for c, syms in words.items():
            for pair in zip(syms, syms[1:], strict=False):
                pairs[pair] += counts[c]
        if not pairs or max(pairs.values()) < 2:
            break
        best = max(pairs.items(), key=lambda item: (item[1], item[0]))[0]
        merges.append(best)
        for c, syms in words.items():
            out, i = [], 0
            while i < len(syms):
                if syms[i:i + 2] == list(best):
                    out.append(best[0] + best[1])
                    i += 2
                else:
                    out.append(syms[i])
                    i += 1
            words[c] = out
    return merges


@pytest.mark.parametrize("vocab_size", [30, 80])  # stops at the size limit / when no pair repeats
def test_bpe_incremental_counts_equal_textbook_bpe(vocab_size):
    text = CORPUS + "aaaa aaa banana bandana nanana " * 4
    bpe = BPETokenizer(vocab_size=vocab_size).train(text)
    chunks = re.findall(r" ?\w+| ?[^\w\s]+|\s+", text)
    allowed_merges = vocab_size - (len(set(text)) + 1)  # vocab_size minus the alphabet and <UNK>
    assert len(bpe.merges) > 10
    assert bpe.merges == naive_bpe_merges(chunks, allowed_merges)
