"""All hypothesis strategies for signbench's tests (one module, pandas style)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

SIGN_RAW = [i for i in range(25) if i != 9]


@st.composite
def image_batches(draw, *, min_n: int = 1, max_n: int = 8, sides=(1, 2, 3, 5, 28), channels=(1,)):
    """(uint8 images N x S x S x C, class indices) with pixel values covering 0, 255 and 1-3 digits."""
    n = draw(st.integers(min_n, max_n))
    side = draw(st.sampled_from(sides))
    c = draw(st.sampled_from(channels))
    images = draw(
        hnp.arrays(np.uint8, (n, side, side, c), elements=st.integers(0, 255) | st.sampled_from([0, 9, 10, 99, 100, 255]))
    )
    labels = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, 23)))
    return images, labels


def sign_raw(labels: np.ndarray) -> list[int]:
    """Class indices 0-23 -> Sign Language MNIST raw labels (0-24 without 9)."""
    return [SIGN_RAW[int(i)] for i in labels]


@st.composite
def label_arrays(draw, *, max_classes: int = 6, max_per_class: int = 25, min_per_class: int = 0):
    """int64 labels with a drawn number of samples per class, in shuffled order."""
    k = draw(st.integers(1, max_classes))
    counts = draw(st.lists(st.integers(min_per_class, max_per_class), min_size=k, max_size=k))
    if sum(counts) == 0:
        counts[0] = 1
    labels = np.repeat(np.arange(k), counts)
    perm = draw(st.permutations(range(labels.size)))
    return labels[np.array(perm, dtype=np.int64)] if labels.size else labels


DEFECT_VALUES = {"non_numeric": ["fwefew", "abc", "1.2.3", "x7"], "null": [""], "out_of_range": ["256", "300", "-5", "1000"]}


@st.composite
def dirty_frames(draw, *, side: int = 3):
    """(clean rows, dirty rows, {dirty row position: reason}) as lists of string fields.

    Clean rows are distinct; defects are injected one per dirty row; duplicates copy an earlier clean row.
    """
    npix = side * side
    n = draw(st.integers(1, 12))
    rows = draw(
        st.lists(st.tuples(st.sampled_from(SIGN_RAW), st.lists(st.integers(0, 255), min_size=npix, max_size=npix)),
                 min_size=n, max_size=n, unique_by=lambda r: (r[0], tuple(r[1])))
    )
    clean = [[str(lab)] + [str(v) for v in pix] for lab, pix in rows]
    dirty = [list(r) for r in clean]
    reasons: dict[int, str] = {}
    n_defects = draw(st.integers(0, 6))
    for _ in range(n_defects):
        kind = draw(st.sampled_from(["duplicate", "non_numeric", "null", "out_of_range"]))
        src = draw(st.integers(0, len(clean) - 1))
        row = list(clean[src])
        if kind != "duplicate":
            col = draw(st.integers(1, npix))
            row[col] = draw(st.sampled_from(DEFECT_VALUES[kind]))
            pos = draw(st.integers(0, len(dirty)))
        else:
            first = next(i for i, r in enumerate(dirty) if r == clean[src])
            pos = draw(st.integers(first + 1, len(dirty)))
        dirty.insert(pos, row)
        reasons = {(k + 1 if k >= pos else k): v for k, v in reasons.items()}
        reasons[pos] = kind
    return clean, dirty, reasons
