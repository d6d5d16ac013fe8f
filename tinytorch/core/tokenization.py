"""Text <-> token ids, as the course defines them: Tokenizer, CharTokenizer and a word-level BPE.

Id 0 is "<UNK>" in both tokenizers: unknown characters (tokens) encode to 0 and decode to "<UNK>".
"""

from __future__ import annotations

from collections import Counter

from tinytorch.core.tensor import Tensor  # noqa: F401 (a name the course's module imports)

KB_TO_BYTES = 1024

UNK = "<UNK>"
END_OF_WORD = "</w>"


class Tokenizer:
    """Base class: ``encode(text) -> list of ids`` and ``decode(ids) -> text``."""

    def encode(self, text):
        raise NotImplementedError("Subclasses must implement encode()")

    def decode(self, tokens):
        raise NotImplementedError("Subclasses must implement decode()")


class CharTokenizer(Tokenizer):
    """One id per character: ``vocab = ["<UNK>"] + characters``.

    ``CharTokenizer(vocab)`` keeps the given characters in order; ``build_vocab(corpus)`` learns
    the sorted characters of the texts in ``corpus`` (a list of strings).
    """

    def __init__(self, vocab=None):
        self.unk_id = 0
        self._set_vocab(list(vocab or []))

    def _set_vocab(self, chars) -> None:
        self.vocab = [UNK, *chars]
        self.vocab_size = len(self.vocab)
        self.char_to_id = {char: idx for idx, char in enumerate(self.vocab)}
        self.id_to_char = dict(enumerate(self.vocab))

    def build_vocab(self, corpus) -> None:
        self._set_vocab(sorted({char for text in corpus for char in text}))

    def encode(self, text):
        return [self.char_to_id.get(char, self.unk_id) for char in text]

    def decode(self, tokens):
        return "".join(self.id_to_char.get(int(token_id), UNK) for token_id in tokens)


def _merge_pair(tokens: list[str], pair: tuple[str, str]) -> list[str]:
    """Replace every left-to-right occurrence of ``pair`` by its concatenation."""
    merged, i = [], 0
    while i < len(tokens):
        if i < len(tokens) - 1 and tokens[i] == pair[0] and tokens[i + 1] == pair[1]:
            merged.append(pair[0] + pair[1])
            i += 2
        else:
            merged.append(tokens[i])
            i += 1
    return merged


class BPETokenizer(Tokenizer):
    """Byte-pair encoding over words (the course's): each word is its characters with "</w>" on the last.

    ``train(corpus, vocab_size=None)`` takes a list of words (repeats count), starts from their
    characters (sorted, "<UNK>" first) and appends the most frequent adjacent pair as a new token
    until ``vocab_size`` tokens exist or no pair is left (ties: the pair seen first). ``encode``
    splits text on whitespace and applies ``merges`` in order; ``decode`` turns "</w>" into spaces.
    """

    def __init__(self, vocab_size=1000):
        self.vocab_size = vocab_size
        self.vocab = []
        self.merges = []
        self.token_to_id = {}
        self.id_to_token = {}

    @staticmethod
    def _get_word_tokens(word):
        tokens = list(word)
        if tokens:
            tokens[-1] += END_OF_WORD
        return tokens

    def train(self, corpus, vocab_size=None) -> None:
        if vocab_size:
            self.vocab_size = vocab_size
        word_freq = Counter(corpus)
        word_tokens = {word: self._get_word_tokens(word) for word in word_freq}
        self.vocab = sorted({token for tokens in word_tokens.values() for token in tokens})
        if UNK not in self.vocab:
            self.vocab = [UNK, *self.vocab]
        self.merges = []
        while len(self.vocab) < self.vocab_size:
            pair_counts = Counter()
            for word, freq in word_freq.items():
                tokens = word_tokens[word]
                for pair in zip(tokens, tokens[1:], strict=False):
                    pair_counts[pair] += freq
            if not pair_counts:
                break
            best = max(pair_counts, key=pair_counts.__getitem__)  # first seen wins ties
            word_tokens = {word: _merge_pair(tokens, best) for word, tokens in word_tokens.items()}
            self.vocab.append(best[0] + best[1])
            self.merges.append(best)
        self._build_mappings()

    def _build_mappings(self) -> None:
        self.token_to_id = {token: idx for idx, token in enumerate(self.vocab)}
        self.id_to_token = dict(enumerate(self.vocab))

    def _apply_merges(self, tokens):
        for pair in self.merges:
            tokens = _merge_pair(tokens, pair)
        return tokens

    def encode(self, text):
        if not self.vocab:
            return []
        cache: dict[str, list[int]] = {}
        ids = []
        for word in text.split():
            if word not in cache:
                tokens = self._apply_merges(self._get_word_tokens(word))
                cache[word] = [self.token_to_id.get(token, 0) for token in tokens]
            ids.extend(cache[word])
        return ids

    def decode(self, tokens):
        if not self.id_to_token:
            return ""
        text = "".join(self.id_to_token.get(int(token_id), UNK) for token_id in tokens)
        return " ".join(text.replace(END_OF_WORD, " ").split())
