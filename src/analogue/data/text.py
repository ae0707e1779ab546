"""Generated English text for distillation and language-model training (no download).

``generate_sentences`` draws varied sentences from a small grammar (subjects, verbs, objects,
places, times, adjectives and several clause templates) with an explicit generator, so the same
seed always gives the same text. ``WordVocab`` maps the grammar's words (and punctuation) to
token ids for a small causal language model; ``lm_tokens`` turns generated text into a tensor of
fixed-length training sequences.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
from torch import Tensor

_PEOPLE = ("the man", "the woman", "a child", "the doctor", "a student", "the teacher", "my neighbour",
           "the chef", "a farmer", "the pilot", "an engineer", "the old man", "a young girl", "the team",
           "the driver", "our manager", "a tourist", "the nurse", "the artist", "the children")
_ANIMALS = ("the dog", "a cat", "the horse", "two birds", "a small fox", "the cows", "a rabbit")
_ACTIONS = ("is reading a book", "is cooking dinner", "is playing the piano", "is riding a bicycle",
            "is writing a letter", "is cleaning the kitchen", "is painting a picture", "is watching a film",
            "is fixing the car", "is drinking coffee", "is walking home", "is talking on the phone",
            "is planting trees", "is repairing the roof", "is selling vegetables", "is studying maths",
            "is singing a song", "is running a race", "is buying bread", "is climbing a hill")
_ANIMAL_ACTIONS = ("is sleeping", "is running", "is eating grass", "is chasing a ball", "is drinking water",
                   "is hiding", "is jumping over a fence", "is resting in the shade")
_PLACES = ("in the park", "at home", "in the garden", "near the river", "in the city", "at the station",
           "on the beach", "in the office", "at the market", "in the village", "on the farm",
           "at the hospital", "in the kitchen", "at school", "in the mountains", "by the lake")
_TIMES = ("today", "this morning", "in the evening", "at night", "on Sunday", "after lunch",
          "every day", "last week", "tomorrow", "in the summer", "before dawn", "at noon")
_ADJ = ("old", "new", "small", "large", "red", "quiet", "busy", "beautiful", "cheap", "famous", "empty",
        "crowded", "modern", "wooden", "bright")
_THINGS = ("house", "car", "bridge", "shop", "train", "garden", "road", "museum", "school", "restaurant",
           "boat", "library", "market", "hotel", "tower")
_EVENTS = ("the meeting", "the concert", "the match", "the flight", "the exam", "the festival",
           "the lecture", "the wedding", "the election", "the trip")
_EVENT_VERBS = ("was cancelled", "was postponed", "starts at ten", "ended late", "was a great success",
                "is sold out", "was moved to Friday", "went well", "was delayed by rain", "begins soon")
_TOPICS = ("prices", "the weather", "the economy", "the river", "sales", "temperatures", "the traffic",
           "the number of visitors", "the water level", "the rent")
_TRENDS = ("rose sharply", "fell slowly", "stayed the same", "changed a lot", "went up again",
           "dropped last month", "doubled this year", "are expected to rise")
_WEATHER = ("it is raining", "it is snowing", "the sun is shining", "a storm is coming", "it is very cold",
            "it is warm and dry", "the wind is strong", "fog covers the valley")
_CONNECT = ("because", "while", "although", "so", "and", "but")


def _pick(seq: tuple[str, ...], g: torch.Generator) -> str:
    return seq[int(torch.randint(len(seq), (1,), generator=g))]


def _clause(g: torch.Generator) -> str:
    kind = int(torch.randint(7, (1,), generator=g))
    if kind == 0:
        return f"{_pick(_PEOPLE, g)} {_pick(_ACTIONS, g)} {_pick(_PLACES, g)}"
    if kind == 1:
        return f"{_pick(_ANIMALS, g)} {_pick(_ANIMAL_ACTIONS, g)} {_pick(_PLACES, g)}"
    if kind == 2:
        return f"the {_pick(_ADJ, g)} {_pick(_THINGS, g)} is {_pick(_PLACES, g)}"
    if kind == 3:
        return f"{_pick(_EVENTS, g)} {_pick(_EVENT_VERBS, g)}"
    if kind == 4:
        return f"{_pick(_TOPICS, g)} {_pick(_TRENDS, g)} {_pick(_TIMES, g)}"
    if kind == 5:
        return f"{_pick(_WEATHER, g)} {_pick(_PLACES, g)}"
    return f"{_pick(_PEOPLE, g)} {_pick(_ACTIONS, g)} {_pick(_TIMES, g)}"


def generate_sentences(n: int, seed: int = 0) -> list[str]:
    """``n`` generated English sentences (one or two clauses each), reproducible from ``seed``."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"generate_sentences: n must be a positive integer, got {n!r}")
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        s = _clause(g)
        if int(torch.randint(3, (1,), generator=g)) == 0:
            s = f"{s} {_pick(_CONNECT, g)} {_clause(g)}"
        out.append(s[0].upper() + s[1:] + ".")
    return out


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+|[.,]", text.lower())


@dataclass(frozen=True)
class WordVocab:
    """Word-level vocabulary of the generated text: ``<eos>`` is id 0, ``<unk>`` id 1, then every
    word of the grammar and the full stop, sorted (the same ids in every installation)."""

    words: tuple[str, ...]

    @classmethod
    def of_grammar(cls) -> WordVocab:
        pools = (_PEOPLE, _ANIMALS, _ACTIONS, _ANIMAL_ACTIONS, _PLACES, _TIMES, _ADJ, _THINGS, _EVENTS,
                 _EVENT_VERBS, _TOPICS, _TRENDS, _WEATHER, _CONNECT, ("is the .",))
        words = sorted({w for pool in pools for phrase in pool for w in _words(phrase)})
        return cls(("<eos>", "<unk>", *words))

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (unknown words -> ``<unk>``)."""
        index = {w: i for i, w in enumerate(self.words)}
        return [index.get(w, 1) for w in _words(text)]


def lm_tokens(n_sequences: int, seq_len: int, seed: int = 0, vocab: WordVocab | None = None) -> Tensor:
    """``(n_sequences, seq_len)`` int64 token ids: generated sentences, each followed by ``<eos>``,
    concatenated and cut into sequences (reproducible from ``seed``)."""
    if n_sequences < 1 or seq_len < 2:
        raise ValueError(f"lm_tokens: need n_sequences >= 1 and seq_len >= 2, got {n_sequences}, {seq_len}")
    vocab = vocab or WordVocab.of_grammar()
    need = n_sequences * seq_len
    ids: list[int] = []
    batch_seed = seed
    while len(ids) < need:
        for s in generate_sentences(256, seed=batch_seed):
            ids.extend(vocab.encode(s))
            ids.append(0)
        batch_seed += 1_000_003
    return torch.tensor(ids[:need], dtype=torch.long).view(n_sequences, seq_len)


__all__ = ["WordVocab", "generate_sentences", "lm_tokens"]
