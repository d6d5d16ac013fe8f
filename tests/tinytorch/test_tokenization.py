"""CharTokenizer and the course's word-level BPETokenizer: vocabularies, merges, round-trips, <UNK>."""

from collections import Counter

import numpy as np
import pytest

from tinytorch.core.tokenization import BPETokenizer, CharTokenizer, Tokenizer

WORDS = ("the cat sat on the mat the cat ate the rat then the cat sat again " * 3).split()


def test_char_vocab_is_unk_then_characters():
    tok = CharTokenizer()
    tok.build_vocab(["hello", "he"])
    assert tok.vocab == ["<UNK>", "e", "h", "l", "o"] and tok.vocab_size == 5 and tok.unk_id == 0
    assert tok.encode("hole") == [2, 4, 3, 1]
    assert tok.char_to_id["o"] == 4 and tok.id_to_char[4] == "o"
    assert CharTokenizer(list("olh")).vocab == ["<UNK>", "o", "l", "h"]  # given order kept


def test_char_round_trip_and_unknown_chars():
    tok = CharTokenizer()
    tok.build_vocab([" ".join(WORDS) + "."])
    text = "the rat sat on the cat."
    assert tok.decode(tok.encode(text)) == text
    ids = tok.encode("cat?Z")
    assert ids[3:] == [0, 0] and tok.decode(ids) == "cat<UNK><UNK>"
    assert tok.decode(np.array(tok.encode("mat"))) == "mat"  # arrays decode too
    assert tok.decode([999]) == "<UNK>"


def naive_bpe(words, vocab_size):
    """The course's algorithm written out: recount all pairs each round, first-seen pair wins ties."""
    freq = Counter(words)
    tokens = {w: list(w[:-1]) + [w[-1] + "</w>"] for w in freq}
    vocab = ["<UNK>"] + sorted({t for ts in tokens.values() for t in ts})
    merges = []
    while len(vocab) < vocab_size:
        counts = Counter()
        for w, f in freq.items():
            for pair in zip(tokens[w], tokens[w][1:], strict=False):
                counts[pair] += f
        if not counts:
            break
        best = max(counts, key=counts.__getitem__)
        for w, ts in tokens.items():
            out, i = [], 0
            while i < len(ts):
                if ts[i:i + 2] == list(best):
                    out.append(best[0] + best[1])
                    i += 2
                else:
                    out.append(ts[i])
                    i += 1
            tokens[w] = out
        vocab.append(best[0] + best[1])
        merges.append(best)
    return vocab, merges


@pytest.mark.parametrize("vocab_size", [20, 1000])  # size limit / no pairs left
def test_bpe_trains_the_course_merges(vocab_size):
    bpe = BPETokenizer(vocab_size=vocab_size)
    bpe.train(WORDS)
    vocab, merges = naive_bpe(WORDS, vocab_size)
    assert bpe.vocab == vocab and bpe.merges == merges
    assert len(bpe.vocab) == (vocab_size if vocab_size < 1000 else len(vocab))
    assert bpe.token_to_id[bpe.vocab[5]] == 5 and bpe.id_to_token[5] == bpe.vocab[5]


def test_bpe_encode_decode_and_unknowns():
    bpe = BPETokenizer()
    assert bpe.vocab_size == 1000 and bpe.encode("the") == [] and bpe.decode([1]) == ""
    bpe.train(WORDS, vocab_size=60)
    assert bpe.vocab_size == 60
    assert bpe.encode("the") == [bpe.token_to_id["the</w>"]]
    text = "the   cat\nsat on the mat"
    assert bpe.decode(bpe.encode(text)) == "the cat sat on the mat"  # whitespace normalised
    ids = bpe.encode("cat zq")
    assert 0 in ids and "<UNK>" in bpe.decode(ids)


def test_tokenizer_base_is_abstract():
    with pytest.raises(NotImplementedError):
        Tokenizer().encode("x")
    with pytest.raises(NotImplementedError):
        Tokenizer().decode([0])
