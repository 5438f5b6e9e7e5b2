"""Name normalisation: the zoo of logged metric names → (split, metric)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gapwatch.names import SPLIT_ALIASES, is_bookkeeping, metric_mode, normalize

TABLE = [
    # Hugging Face
    ("eval_loss", ("val", "loss")),
    ("eval_accuracy", ("val", "acc")),
    ("loss", ("train", "loss")),
    ("test_acc", ("test", "acc")),
    # slash-style (TensorBoard, W&B)
    ("val/loss", ("val", "loss")),
    ("train/loss", ("train", "loss")),
    ("eval/accuracy", ("val", "acc")),
    ("validation/loss", ("val", "loss")),
    ("accuracy/validation", ("val", "acc")),
    ("val.loss", ("val", "loss")),
    ("val-loss", ("val", "loss")),
    ("Val Loss", ("val", "loss")),
    # spelled-out splits
    ("valid_loss", ("val", "loss")),
    ("val_acc", ("val", "acc")),
    ("validation_accuracy", ("val", "acc")),
    ("dev_f1", ("val", "f1")),
    ("tr_loss", ("train", "loss")),
    ("loss_val", ("val", "loss")),
    # Lightning suffixes, Keras TensorBoard prefixes
    ("train_loss_epoch", ("train", "loss")),
    ("train_loss_step", ("train", "loss")),
    ("train/acc_epoch", ("train", "acc")),
    ("epoch_loss", ("train", "loss")),  # Keras TB tag in train/; the reader gives validation/ its split
    ("batch_accuracy", ("train", "acc")),
    # Keras CSV bare names
    ("accuracy", ("train", "acc")),
    # qualifiers kept, canonical measure last
    ("val_pgd_acc", ("val", "pgd_acc")),
    ("val_top5_acc", ("val", "top5_acc")),
    ("valid_acc1", ("val", "acc")),
    ("test_error_rate", ("test", "error")),
    ("val_ppl", ("val", "perplexity")),
    # named held-out sets survive as their own split
    ("retention_acc", ("retention", "acc")),
    ("ood/loss", ("ood", "loss")),
    ("task0_acc", ("task0", "acc")),
]


@pytest.mark.parametrize("name,expected", TABLE)
def test_normalize_table(name: str, expected: tuple[str, str]) -> None:
    assert normalize(name) == expected


def test_default_split_applies_to_bare_names_only() -> None:
    assert normalize("loss", default_split="val") == ("val", "loss")
    assert normalize("train_loss", default_split="val") == ("train", "loss")


@pytest.mark.parametrize("name", ["epoch", "step", "global_step", "learning_rate", "lr", "grad_norm",
                                  "eval_runtime", "train_samples_per_second", "eval_steps_per_second",
                                  "total_flos", "train_runtime"])
def test_bookkeeping(name: str) -> None:
    assert is_bookkeeping(name)


@pytest.mark.parametrize("name", ["loss", "val_loss", "eval_accuracy", "retention_acc"])
def test_not_bookkeeping(name: str) -> None:
    assert not is_bookkeeping(name)


@pytest.mark.parametrize("metric,mode", [("loss", "min"), ("acc", "max"), ("pgd_acc", "max"), ("f1", "max"),
                                         ("perplexity", "min"), ("error", "min"), ("auc", "max")])
def test_metric_mode(metric: str, mode: str) -> None:
    assert metric_mode(metric) == mode


_tok = st.sampled_from(["loss", "acc", "accuracy", "f1", "pgd_acc", "top5_acc", "nll"])
_split = st.sampled_from(sorted(SPLIT_ALIASES))
_sep = st.sampled_from(["_", "/", ".", "-"])


@given(_split, _sep, _tok)
def test_prefix_split_always_wins(split: str, sep: str, metric: str) -> None:
    s, _ = normalize(f"{split}{sep}{metric}")
    assert s == SPLIT_ALIASES[split]


@given(_split, _sep, _tok)
def test_separator_does_not_matter(split: str, sep: str, metric: str) -> None:
    assert normalize(f"{split}{sep}{metric}") == normalize(f"{split}_{metric}")


@given(st.text(min_size=1, max_size=30))
def test_normalize_never_raises_and_gives_nonempty(name: str) -> None:
    split, metric = normalize(name)
    assert isinstance(split, str) and split
    assert isinstance(metric, str)
