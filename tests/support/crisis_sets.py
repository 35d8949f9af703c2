"""What "near-duplicate" means for the crisis sets: character-bigram Jaccard similarity above
``NEAR_DUPLICATE``. Shared by the data checks (tests/test_crisis_data.py) and the vetting-set
test (tests/nlu/test_crisis_vetting.py), so both judge a training line by the same bound."""

from __future__ import annotations

import re

NEAR_DUPLICATE = 0.5


def bigrams(text: str) -> set[str]:
    """The character bigrams of ``text`` without punctuation, spaces or symbols."""
    t = re.sub(r"[\W_]", "", text)
    return {t[i : i + 2] for i in range(len(t) - 1)} or {t}


def near(a: set[str], b: set[str]) -> bool:
    """Whether two texts' ``bigrams`` are within the near-duplicate bound."""
    return len(a & b) / len(a | b) > NEAR_DUPLICATE
