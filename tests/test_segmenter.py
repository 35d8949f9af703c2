"""jieba's dictionary is read once per process, shared by the readers that add no words and
copied for each user that does: a copy segments exactly like a freshly read dictionary, and
words one user adds stay out of the others' and the shared one."""

from __future__ import annotations

import logging
from pathlib import Path

import jieba

from bot.segmenter import new_tokenizer, shared_tokenizer

ROOT = Path(__file__).resolve().parent.parent


def _texts() -> list[str]:
    """Residents' phrasing from the sample corpus (every line with Chinese in it)."""
    lines = []
    for path in sorted((ROOT / "knowledge").rglob("*.y*ml")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if any("\u4e00" <= ch <= "\u9fff" for ch in line):
                lines.append(line.strip(" -:'\""))
    return lines


def test_a_copy_segments_like_a_freshly_read_dictionary() -> None:
    jieba.setLogLevel(logging.WARNING)
    fresh = jieba.Tokenizer()
    fresh.initialize()
    fresh.add_word("垃圾分类", freq=200_000)
    copy = new_tokenizer([("垃圾分类", 200_000)])
    texts = _texts()
    assert len(texts) > 200
    for text in texts:
        assert copy.lcut(text, HMM=False) == fresh.lcut(text, HMM=False), text
        assert copy.lcut(text) == fresh.lcut(text), text


def test_words_added_to_one_copy_stay_in_that_copy() -> None:
    word = "普陀一村居民楼"
    plain = new_tokenizer()
    added = new_tokenizer([(word, 1_000_000)])
    assert word in added.lcut(f"我住{word}三号", HMM=False)
    assert word not in plain.lcut(f"我住{word}三号", HMM=False)
    assert word not in new_tokenizer().lcut(f"我住{word}三号", HMM=False)
    # the one the readers share (the NLU's classifiers) never sees them either
    assert word not in shared_tokenizer().lcut(f"我住{word}三号", HMM=False)
    assert shared_tokenizer() is shared_tokenizer()
