"""Text <-> token ids: a character tokenizer and a small byte-pair-encoding (BPE) tokenizer.

Unknown-character policy (both tokenizers): id 0 is the special token "<UNK>" (the course's
spelling). Encoding a character that was not in the vocabulary gives 0; decoding 0 gives "<UNK>".
So decode(encode(text)) == text exactly when every character of text was seen in training.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict

__all__ = ["CharTokenizer", "BPETokenizer", "UNK_TOKEN", "UNK_ID"]

UNK_TOKEN = "<UNK>"
UNK_ID = 0


def _as_text(corpus, where: str) -> str:
    if isinstance(corpus, str):
        return corpus
    if isinstance(corpus, (list, tuple)) and all(isinstance(t, str) for t in corpus):
        return "\n".join(corpus)
    raise TypeError(f"{where}: corpus must be a string or a list of strings, got {type(corpus).__name__}")


def _as_id_list(ids, vocab_size: int, where: str) -> list[int]:
    ids = ids.tolist() if hasattr(ids, "tolist") else list(ids)
    out = [int(i) for i in ids]
    bad = [i for i in out if not 0 <= i < vocab_size]
    if bad:
        raise ValueError(f"{where}: ids {bad[:5]} are outside the vocabulary [0, {vocab_size})")
    return out


class CharTokenizer:
    """One id per character: 0 = "<UNK>", then the characters.

    CharTokenizer(vocab) keeps the given character order (duplicates dropped);
    build_vocab(corpus) learns the corpus characters in sorted order.
    """

    def __init__(self, vocab: list[str] | None = None):
        self.vocab: list[str] = [UNK_TOKEN]
        self.char_to_id: dict[str, int] = {}
        if vocab is not None:
            self._set_chars(vocab)

    def _set_chars(self, chars) -> None:
        chars = [c for c in dict.fromkeys(chars) if c != UNK_TOKEN]
        self.vocab = [UNK_TOKEN, *chars]
        self.char_to_id = {c: i for i, c in enumerate(self.vocab) if i != UNK_ID}

    def build_vocab(self, corpus) -> CharTokenizer:
        """Learn the character set of a string (or list of strings); returns self."""
        self._set_chars(sorted(set(_as_text(corpus, "CharTokenizer.build_vocab"))))
        return self

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def encode(self, text: str) -> list[int]:
        if not isinstance(text, str):
            raise TypeError(f"CharTokenizer.encode expects a string, got {type(text).__name__}")
        return [self.char_to_id.get(c, UNK_ID) for c in text]

    def decode(self, ids) -> str:
        return "".join(self.vocab[i] for i in _as_id_list(ids, self.vocab_size, "CharTokenizer.decode"))


_CHUNK = re.compile(r" ?\w+| ?[^\w\s]+|\s+")


class BPETokenizer:
    """Character-level byte-pair encoding (Sennrich et al.), GPT-2 style pre-split into chunks.

    train(corpus) starts from the corpus characters (plus "<UNK>" at id 0) and repeatedly merges the
    most frequent adjacent pair inside chunks (a word with its leading space, punctuation, whitespace)
    until vocab_size tokens exist or no pair repeats. encode applies the merges in learned order.
    """

    def __init__(self, vocab_size: int = 256):
        if vocab_size < 2:
            raise ValueError(f"BPETokenizer vocab_size must be >= 2, got {vocab_size}")
        self.target_vocab_size = int(vocab_size)
        self.vocab: list[str] = [UNK_TOKEN]
        self.token_to_id: dict[str, int] = {}
        self.merges: list[tuple[str, str]] = []
        self._ranks: dict[tuple[str, str], int] = {}
        self._cache: dict[str, list[str]] = {}

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def train(self, corpus) -> BPETokenizer:
        """Learn the alphabet and the merges from a string or list of strings; returns self.

        Pair counts are updated incrementally: a merge only revisits the chunks that contain it.
        Ties between equally frequent pairs go to the larger pair (deterministic).
        """
        text = _as_text(corpus, "BPETokenizer.train")
        chunk_counts = Counter(_CHUNK.findall(text))
        self.vocab = [UNK_TOKEN, *sorted(set(text))]
        self.merges = []
        words = [list(chunk) for chunk in chunk_counts]
        freqs = list(chunk_counts.values())
        pair_counts: Counter = Counter()
        chunks_with: defaultdict[tuple[str, str], set[int]] = defaultdict(set)
        for index, symbols in enumerate(words):
            for pair in _pairs(symbols):
                pair_counts[pair] += freqs[index]
                chunks_with[pair].add(index)
        while len(self.vocab) < self.target_vocab_size and pair_counts:
            best, count = max(pair_counts.items(), key=lambda item: (item[1], item[0]))
            if count < 2:
                break
            self.merges.append(best)
            self.vocab.append(best[0] + best[1])
            for index in chunks_with.pop(best):
                for pair in _pairs(words[index]):
                    pair_counts[pair] -= freqs[index]
                    if pair_counts[pair] <= 0:
                        del pair_counts[pair]
                words[index] = _merge_pair(words[index], best)
                for pair in _pairs(words[index]):
                    pair_counts[pair] += freqs[index]
                    chunks_with[pair].add(index)
        self.token_to_id = {t: i for i, t in enumerate(self.vocab) if i != UNK_ID}
        self._ranks = {pair: rank for rank, pair in enumerate(self.merges)}
        self._cache = {}
        return self

    def _tokenize_chunk(self, chunk: str) -> list[str]:
        if chunk not in self._cache:
            symbols = list(chunk)
            while len(symbols) > 1:
                ranked = [(self._ranks.get(pair, len(self._ranks)), pair) for pair in _pairs(symbols)]
                rank, pair = min(ranked)
                if rank == len(self._ranks):
                    break
                symbols = _merge_pair(symbols, pair)
            self._cache[chunk] = symbols
        return self._cache[chunk]

    def encode(self, text: str) -> list[int]:
        if not isinstance(text, str):
            raise TypeError(f"BPETokenizer.encode expects a string, got {type(text).__name__}")
        if not self.token_to_id:
            raise RuntimeError("BPETokenizer.encode called before train(corpus)")
        return [self.token_to_id.get(sym, UNK_ID)
                for chunk in _CHUNK.findall(text) for sym in self._tokenize_chunk(chunk)]

    def decode(self, ids) -> str:
        return "".join(self.vocab[i] for i in _as_id_list(ids, self.vocab_size, "BPETokenizer.decode"))


def _pairs(symbols: list[str]):
    """Adjacent symbol pairs, left to right."""
    return zip(symbols, symbols[1:], strict=False)


def _merge_pair(symbols: list[str], pair: tuple[str, str]) -> list[str]:
    """Replace every non-overlapping occurrence of `pair` (left to right) by its concatenation."""
    out, i = [], 0
    while i < len(symbols):
        if i + 1 < len(symbols) and symbols[i] == pair[0] and symbols[i + 1] == pair[1]:
            out.append(pair[0] + pair[1])
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return out
