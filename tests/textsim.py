"""Text similarity used against ground truth: normalised Levenshtein similarity of normalised text."""

from __future__ import annotations

import re
import unicodedata

from rapidfuzz.distance import Levenshtein

_MD = re.compile(r"(<!--.*?-->|^#+\s*|^\s*[-*]\s+|^---$|[*_`|]|\$\$)", re.MULTILINE)


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = _MD.sub(" ", text)
    return " ".join(text.lower().split())


def similarity(ours: str, truth: str) -> float:
    return float(Levenshtein.normalized_similarity(normalise(ours), normalise(truth)))
