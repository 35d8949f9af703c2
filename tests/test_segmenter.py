"""jieba's dictionary is read once per process, shared by the readers that add no words and
layered for each user that does: words one user adds stay out of the others' and the shared
one. It is a compact table (a trie and an array, memory-mapped from a folder of the host)
that answers every look-up as jieba's own dict does, and cuts every text into the same words
as stock jieba, in every mode, with and without words added."""

from __future__ import annotations

import itertools
import logging
import random
from pathlib import Path
from typing import Any

import jieba
import pytest
import yaml

from bot import segmenter
from bot.retrieval.lexicon import DOMAIN_WORDS
from bot.segmenter import Frequencies, compact_table, new_tokenizer, shared_tokenizer

ROOT = Path(__file__).resolve().parent.parent


def _texts() -> list[str]:
    """Lines with Chinese in them from the intents' and the FAQ corpus' strings (residents'
    phrasing, answers, crisis examples; at least 3,000, evenly spread), and a few made to
    stress the cutter: Latin letters, digits, emoji, punctuation, long runs without a break."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, str):
            found.extend(line.strip(" -") for line in node.splitlines())
        elif isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    paths = sorted((ROOT / "intents").glob("*.yml")) + sorted((ROOT / "knowledge").rglob("*.yml"))
    for path in paths:
        walk(yaml.safe_load(path.read_text(encoding="utf-8")))
    texts = [t for t in dict.fromkeys(found) if any("\u4e00" <= ch <= "\u9fff" for ch in t)]
    texts = texts[:: max(1, len(texts) // 3000)]  # every file, evenly
    texts += [
        "Wi-Fi密码是多少？3号楼502室的WiFi坏了😭😭",
        "中华人民共和国居民身份证法第十二条规定了什么",
        "我我我我我我我我我我我我我我我我我我我我我我我我我我我我我我我我我我我我",
        "垃圾分类湿垃圾干垃圾可回收物有害垃圾每天早上七点到九点晚上六点到八点投放",
        "C++和Python.3.11哪个好, 100%确定#&_-",
        "\u3000\t 。，、；：？！“”‘’（）《》【】……——",
        "𠮷野家的𠀋字怎么读",
        "",
    ]
    return texts


@pytest.fixture(scope="module")
def stock() -> Any:
    jieba.setLogLevel(logging.WARNING)
    tok = jieba.Tokenizer()
    tok.initialize()
    return tok


@pytest.fixture(scope="module")
def stock_with_domain_words() -> Any:
    tok = jieba.Tokenizer()
    tok.initialize()
    for word in DOMAIN_WORDS:
        tok.add_word(word, freq=200_000)
    return tok


def test_the_compact_table_answers_every_look_up_as_jiebas_dict(stock: Any, tmp_path: Path) -> None:
    table = compact_table(tmp_path)
    assert isinstance(table, Frequencies)
    assert table.total == stock.total
    for key, value in stock.FREQ.items():
        assert key in table, key
        assert table[key] == value, key
        assert table.get(key, -1) == value, key
    # fragments of real text that are no word and no prefix of one
    rng = random.Random(15)
    misses = 0
    for text in _texts():
        for _ in range(3):
            if len(text) < 2:
                continue
            i = rng.randrange(len(text) - 1)
            frag = text[i : i + rng.randint(2, 6)]
            assert (frag in table) == (frag in stock.FREQ), frag
            assert table.get(frag) == stock.FREQ.get(frag), frag
            assert table.get(frag, 1) == stock.FREQ.get(frag, 1), frag
            misses += frag not in stock.FREQ
    assert misses > 500
    for absent in ("", "𠮷", "qq", "\x00"):
        assert (absent in table) == (absent in stock.FREQ)
        assert table.get(absent) is None
        with pytest.raises(KeyError):
            table[absent]


def _cuts(tok: Any, text: str) -> list[list[str]]:
    return [
        tok.lcut(text),
        tok.lcut(text, HMM=False),
        tok.lcut(text, cut_all=True),
        tok.lcut_for_search(text),
        [f"{w}/{a}/{b}" for w, a, b in tok.tokenize(text, mode="search")],
    ]


def test_the_shared_tokenizer_cuts_every_text_as_stock_jieba(stock: Any) -> None:
    tok = shared_tokenizer()
    assert isinstance(tok.FREQ, Frequencies)
    texts = _texts()
    assert len(texts) > 2500
    for text in texts:
        assert _cuts(tok, text) == _cuts(stock, text), text


def test_a_tokenizer_with_words_added_cuts_as_stock_jieba_with_them(
    stock_with_domain_words: Any,
) -> None:
    tok = new_tokenizer((word, 200_000) for word in DOMAIN_WORDS)
    for text in _texts():
        assert _cuts(tok, text) == _cuts(stock_with_domain_words, text), text


def test_tuning_and_removing_words_reads_the_table_as_jieba_does() -> None:
    """``suggest_freq`` reads a prefix as 0 and a miss as the default; ``del_word`` stores 0."""
    stock = jieba.Tokenizer()
    stock.initialize()
    tok = new_tokenizer()
    for segment in ("台中", "中将", ("今天", "天气"), "垃圾分类", ("居委", "会"), "湿垃"):
        assert tok.suggest_freq(segment, tune=True) == stock.suggest_freq(segment, tune=True)
    for word in ("居委会", "物业费"):
        tok.del_word(word)
        stock.del_word(word)
    for text in ("台中正确应该不会被切开", "今天天气不错", "居委会收物业费吗", "湿垃圾"):
        assert _cuts(tok, text) == _cuts(stock, text), text


def test_words_added_to_one_tokenizer_stay_in_it() -> None:
    word = "普陀一村居民楼"
    plain = new_tokenizer()
    added = new_tokenizer([(word, 1_000_000)])
    assert word in added.lcut(f"我住{word}三号", HMM=False)
    assert word not in plain.lcut(f"我住{word}三号", HMM=False)
    assert word not in new_tokenizer().lcut(f"我住{word}三号", HMM=False)
    # the one the readers share (the NLU's classifiers) never sees them either
    assert word not in shared_tokenizer().lcut(f"我住{word}三号", HMM=False)
    assert shared_tokenizer() is shared_tokenizer()


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.startswith("jieba-dict-"))


def test_the_table_is_written_once_per_folder_and_memory_mapped(tmp_path: Path) -> None:
    first = compact_table(tmp_path)
    files = _files(tmp_path)
    assert [p.suffix for p in files] == [".freq", ".marisa"]
    stamps = [p.stat().st_mtime_ns for p in files]
    second = compact_table(tmp_path)
    assert [p.stat().st_mtime_ns for p in _files(tmp_path)] == stamps  # read, not written
    assert first is not None
    assert second is not None
    assert isinstance(second._freqs, memoryview)  # mapped from the file
    assert second.total == first.total
    sample = ["中华人民共和国", "中华", "中", "垃圾分类", "物业", "不存在的词语组合"]
    assert [second.get(w) for w in sample] == [first.get(w) for w in sample]


def test_a_damaged_file_is_written_again(tmp_path: Path, stock: Any) -> None:
    compact_table(tmp_path)
    for path in _files(tmp_path):
        path.write_bytes(path.read_bytes()[:100])
    table = compact_table(tmp_path)
    assert table is not None
    assert table.total == stock.total
    assert table["中华人民共和国"] == stock.FREQ["中华人民共和国"]
    assert all(p.stat().st_size > 1_000_000 for p in _files(tmp_path))


def test_a_folder_that_cannot_be_written_builds_the_table_in_memory(
    tmp_path: Path, stock: Any
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    table = compact_table(blocked / "models")
    assert table is not None
    assert not isinstance(table._freqs, memoryview)
    assert table.total == stock.total
    assert table["垃圾"] == stock.FREQ["垃圾"]


def test_the_process_table_comes_from_the_shared_folder_when_one_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(segmenter, "_base", None)
    monkeypatch.setattr(segmenter, "_folder", None)
    segmenter.share_dictionary(tmp_path)
    tok = shared_tokenizer()
    assert len(_files(tmp_path)) == 2
    assert isinstance(tok.FREQ._freqs, memoryview)
    assert new_tokenizer([("普陀一村", 10)]).FREQ._freqs is tok.FREQ._freqs
    pairs = itertools.product(["我住", "普陀一村"], ["三号", "楼"])
    for a, b in pairs:
        assert tok.lcut(a + b) == jieba.Tokenizer().lcut(a + b)
