"""Rasa NLU training data (YAML, ``version: "3.1"``): intents with examples and inline
entity annotations, synonyms, regexes and lookup tables.

Every error names the file and the 1-based line: a typo'd key (``intnet:``), an intent
that is not in the domain's list, an empty example, a nested or overlapping entity
annotation, a regex that does not compile, or one example filed under two intents.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.nlu.errors import TrainingDataError

SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""PyYAML's safe loader on libyaml (its wheels ship it; the pure-Python one reads the
training data ten times slower, and every start reads it): same documents, same line marks."""

_ITEM_KINDS = ("intent", "synonym", "regex", "lookup")
_ITEM_KEYS = {*_ITEM_KINDS, "examples", "metadata"}
_TOP_KEYS = {
    "version",
    "crisis",
    "crisis_examples",
    "crisis_contrast",
    "nlu",
    "intents",
    "entities",
    "responses",
    "slots",
    "forms",
    "actions",
    "session_config",
    "stories",
    "rules",
    "e2e_actions",
}
# Rasa's own annotation grammar: [text](entity), [text](entity:value), [text]{"entity": …}
_ANNOTATION = re.compile(
    r"\[(?P<text>[^\]]+?)\]"
    r"(?:\((?P<entity>[^:)]+?)(?::(?P<value>[^)]+))?\)|\{(?P<json>[^}]+?)\})"
)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")


@dataclass(frozen=True, slots=True)
class EntitySpan:
    entity: str
    value: str
    start: int
    end: int
    text: str
    role: str | None = None


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    intent: str
    entities: tuple[EntitySpan, ...] = ()
    path: str = ""
    line: int = 0


@dataclass(slots=True)
class TrainingData:
    """Everything read from one or more Rasa NLU files."""

    examples: list[Example] = field(default_factory=list)
    synonyms: dict[str, str] = field(default_factory=dict)
    regexes: dict[str, list[str]] = field(default_factory=dict)
    lookups: dict[str, list[str]] = field(default_factory=dict)
    known_intents: frozenset[str] | None = None
    files: list[Path] = field(default_factory=list)

    @property
    def intents(self) -> list[str]:
        return sorted({e.intent for e in self.examples})

    def texts(self) -> list[str]:
        return [e.text for e in self.examples]

    def labels(self) -> list[str]:
        return [e.intent for e in self.examples]

    def fingerprint(self) -> str:
        """A hash of the content that training depends on (not of file names or order)."""
        h = hashlib.sha256()
        for ex in sorted(self.examples, key=lambda e: (e.intent, e.text)):
            h.update(f"{ex.intent}\x00{ex.text}\x01".encode())
        for k in sorted(self.synonyms):
            h.update(f"syn\x00{k}\x00{self.synonyms[k]}\x01".encode())
        for name in sorted(self.regexes):
            h.update(f"re\x00{name}\x00{json.dumps(self.regexes[name])}\x01".encode())
        for name in sorted(self.lookups):
            h.update(f"lk\x00{name}\x00{json.dumps(sorted(self.lookups[name]))}\x01".encode())
        return h.hexdigest()

    def by_intent(self) -> dict[str, list[Example]]:
        out: dict[str, list[Example]] = {}
        for ex in self.examples:
            out.setdefault(ex.intent, []).append(ex)
        return out


def yaml_files(path: Path) -> list[Path]:
    """The ``.yml``/``.yaml`` files under ``path`` (or ``path`` itself), sorted."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file())
    if not path.exists():
        raise TrainingDataError("file not found", path)
    return [path]


def load_training_data(
    paths: Path | str | Iterable[Path | str], known_intents: Collection[str] | None = None
) -> TrainingData:
    """Read Rasa NLU YAML from files and/or directories.

    ``known_intents``: the allowed intent names; when None, a domain file among ``paths``
    (a YAML file with a top-level ``intents:`` list) supplies them, and without one any
    name is accepted.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    files: list[Path] = []
    explicit: set[Path] = set()
    for p in paths:
        p = Path(p)
        found = yaml_files(p)
        if not p.is_dir():
            explicit.update(found)
        files.extend(found)
    docs: list[tuple[Path, MappingNode]] = []
    domain: set[str] = set()
    has_domain = False
    for f in files:
        root = _compose(f)
        if root is None:
            if f in explicit:
                raise TrainingDataError("the file is empty", f)
            continue
        if not isinstance(root, MappingNode):
            raise TrainingDataError("expected a mapping at the top level", f, _line(root))
        keys = {k.value: (k, v) for k, v in root.value if isinstance(k, ScalarNode)}
        for k, _v in keys.values():
            if k.value not in _TOP_KEYS:
                raise TrainingDataError(
                    f"unknown top-level key {k.value!r}{_suggest(k.value, _TOP_KEYS)}", f, _line(k)
                )
        if "intents" in keys and "nlu" not in keys:
            has_domain = True
            domain.update(_domain_intents(f, keys["intents"][1]))
            continue
        if "nlu" not in keys:
            if f in explicit:
                raise TrainingDataError("no 'nlu:' section in this file", f, 1)
            continue
        docs.append((f, root))
    allowed: frozenset[str] | None
    if known_intents is not None:
        allowed = frozenset(known_intents)
    elif has_domain:
        allowed = frozenset(domain)
    else:
        allowed = None
    data = TrainingData(known_intents=allowed, files=[f for f, _ in docs])
    seen: dict[str, Example] = {}
    for f, root in docs:
        _read_nlu(f, root, data, seen)
    if not data.examples and docs:
        raise TrainingDataError("no intent examples found", docs[0][0], 1)
    if not docs:
        where = files[0] if files else Path(str(next(iter(explicit), ".")))
        raise TrainingDataError("no NLU training data found", where)
    return data


def _compose(path: Path) -> Node | None:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise TrainingDataError(f"not UTF-8 text: {exc}", path) from exc
    except OSError as exc:
        raise TrainingDataError(f"cannot read: {exc}", path) from exc
    try:
        return yaml.compose(text, Loader=SAFE_LOADER)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else None
        raise TrainingDataError(f"invalid YAML: {exc.problem}", path, line) from exc
    except yaml.YAMLError as exc:
        raise TrainingDataError(f"invalid YAML: {exc}", path) from exc


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _domain_intents(path: Path, node: Node) -> list[str]:
    if not isinstance(node, SequenceNode):
        raise TrainingDataError("'intents:' must be a list", path, _line(node))
    out = []
    for item in node.value:
        if isinstance(item, ScalarNode):
            out.append(str(item.value))
        elif isinstance(item, MappingNode) and item.value:
            out.append(str(item.value[0][0].value))
        else:
            raise TrainingDataError("bad entry in 'intents:'", path, _line(item))
    return out


def _read_nlu(path: Path, root: MappingNode, data: TrainingData, seen: dict[str, Example]) -> None:
    nlu = next(v for k, v in root.value if isinstance(k, ScalarNode) and k.value == "nlu")
    if isinstance(nlu, ScalarNode) and nlu.value in ("", None):
        return
    if not isinstance(nlu, SequenceNode):
        raise TrainingDataError("'nlu:' must be a list of items", path, _line(nlu))
    for item in nlu.value:
        if not isinstance(item, MappingNode):
            raise TrainingDataError(
                "each 'nlu:' item must be a mapping such as '- intent: greet'", path, _line(item)
            )
        fields: dict[str, tuple[ScalarNode, Node]] = {}
        for k, v in item.value:
            if not isinstance(k, ScalarNode):
                raise TrainingDataError("keys must be plain names", path, _line(k))
            if k.value not in _ITEM_KEYS:
                raise TrainingDataError(
                    f"unknown key {k.value!r}{_suggest(k.value, _ITEM_KEYS)}", path, _line(k)
                )
            fields[k.value] = (k, v)
        kinds = [k for k in _ITEM_KINDS if k in fields]
        if len(kinds) != 1:
            raise TrainingDataError(
                "an item needs exactly one of 'intent', 'synonym', 'regex', 'lookup'"
                f" (found {', '.join(kinds) or 'none'})",
                path,
                _line(item),
            )
        kind = kinds[0]
        name_node = fields[kind][1]
        name = str(name_node.value).strip() if isinstance(name_node, ScalarNode) else ""
        if not name:
            raise TrainingDataError(f"'{kind}:' needs a name", path, _line(name_node))
        if "examples" not in fields:
            raise TrainingDataError(f"{kind} {name!r} has no 'examples:'", path, _line(item))
        lines = _example_lines(path, fields["examples"][1], f"{kind} {name!r}")
        if kind == "intent":
            _add_intent(path, name, name_node, lines, data, seen)
        elif kind == "synonym":
            for text, line in lines:
                if text in data.synonyms and data.synonyms[text] != name:
                    raise TrainingDataError(
                        f"{text!r} is a synonym of both {data.synonyms[text]!r} and {name!r}",
                        path,
                        line,
                    )
                data.synonyms[text] = name
        elif kind == "regex":
            for text, line in lines:
                try:
                    re.compile(text)
                except re.error as exc:
                    raise TrainingDataError(
                        f"regex {name!r} does not compile: {exc}", path, line
                    ) from exc
                data.regexes.setdefault(name, []).append(text)
        else:
            data.lookups.setdefault(name, []).extend(t for t, _ in lines)


def _example_lines(path: Path, node: Node, what: str) -> list[tuple[str, int]]:
    """The examples of one item with their 1-based line numbers."""
    out: list[tuple[str, int]] = []
    if isinstance(node, ScalarNode):
        raw = str(node.value)
        if not raw.strip():
            raise TrainingDataError(f"{what} has no examples", path, _line(node))
        # a block scalar's first content line is the line after the '|'
        first = _line(node) + (1 if node.style in ("|", ">") else 0)
        for i, line in enumerate(raw.split("\n")):
            s = line.strip()
            if not s:
                continue
            if not s.startswith("-"):
                raise TrainingDataError(
                    f"{what}: an example line must start with '- ' (got {s[:30]!r})",
                    path,
                    first + i,
                )
            text = s[1:].strip()
            if not text:
                raise TrainingDataError(f"{what}: empty example", path, first + i)
            out.append((text, first + i))
    elif isinstance(node, SequenceNode):
        for entry in node.value:
            if isinstance(entry, ScalarNode):
                text = str(entry.value).strip()
            elif isinstance(entry, MappingNode):
                texts = [v for k, v in entry.value if getattr(k, "value", None) == "text"]
                if not texts or not isinstance(texts[0], ScalarNode):
                    raise TrainingDataError(f"{what}: example without 'text:'", path, _line(entry))
                text = str(texts[0].value).strip()
            else:
                raise TrainingDataError(f"{what}: bad example", path, _line(entry))
            if not text:
                raise TrainingDataError(f"{what}: empty example", path, _line(entry))
            out.append((text, _line(entry)))
    else:
        raise TrainingDataError(f"{what}: 'examples:' must be a '|' block", path, _line(node))
    if not out:
        raise TrainingDataError(f"{what} has no examples", path, _line(node))
    return out


def _add_intent(
    path: Path,
    name: str,
    name_node: Node,
    lines: list[tuple[str, int]],
    data: TrainingData,
    seen: dict[str, Example],
) -> None:
    if data.known_intents is not None and name not in data.known_intents:
        raise TrainingDataError(
            f"intent {name!r} is not in the domain{_suggest(name, data.known_intents)}",
            path,
            _line(name_node),
        )
    if not _NAME.match(name):
        raise TrainingDataError(f"bad intent name {name!r}", path, _line(name_node))
    for raw, line in lines:
        text, spans = parse_annotated(raw, path, line)
        if not text.strip():
            raise TrainingDataError(f"intent {name!r}: empty example", path, line)
        prev = seen.get(text)
        if prev is not None:
            if prev.intent != name:
                raise TrainingDataError(
                    f"example {text!r} is filed under both {prev.intent!r} "
                    f"({prev.path}:{prev.line}) and {name!r}",
                    path,
                    line,
                )
            continue  # the same example twice in one intent: keep one
        for span in spans:
            if span.value != span.text:
                data.synonyms.setdefault(span.text, span.value)
        ex = Example(text, name, tuple(spans), str(path), line)
        seen[text] = ex
        data.examples.append(ex)


def parse_annotated(
    raw: str, path: Path | str = "<text>", line: int = 0
) -> tuple[str, list[EntitySpan]]:
    """Strip Rasa entity annotations from one example; return the text and the spans."""
    out: list[str] = []
    spans: list[EntitySpan] = []
    pos = 0
    length = 0
    for m in _ANNOTATION.finditer(raw):
        before = raw[pos : m.start()]
        if "](" in before or "]{" in before:
            raise TrainingDataError(
                f"overlapping or nested entity annotation near {before[-20:]!r}", path, line
            )
        out.append(before)
        length += len(before)
        text = m.group("text")
        if "[" in text or "](" in text:
            raise TrainingDataError(
                f"overlapping or nested entity annotation in {m.group(0)!r}", path, line
            )
        role: str | None = None
        if m.group("json") is not None:
            try:
                spec = json.loads("{" + m.group("json") + "}")
            except json.JSONDecodeError as exc:
                raise TrainingDataError(
                    f"bad entity annotation {m.group(0)!r}: {exc.msg}", path, line
                ) from exc
            if not isinstance(spec, dict) or not isinstance(spec.get("entity"), str):
                raise TrainingDataError(
                    f'entity annotation {m.group(0)!r} needs an "entity" name', path, line
                )
            entity = spec["entity"]
            value = str(spec.get("value", text))
            role = str(spec["role"]) if "role" in spec else None
        else:
            entity = str(m.group("entity")).strip()
            value = (m.group("value") or text).strip()
        if not entity:
            raise TrainingDataError(f"entity annotation {m.group(0)!r} has no name", path, line)
        spans.append(EntitySpan(entity, value, length, length + len(text), text, role))
        out.append(text)
        length += len(text)
        pos = m.end()
    rest = raw[pos:]
    if re.search(r"\]\([^)]*\)|\]\{[^}]*\}", rest):
        raise TrainingDataError(
            f"overlapping or unbalanced entity annotation near {rest[:30]!r}", path, line
        )
    out.append(rest)
    spans.sort(key=lambda s: s.start)
    for a, b in itertools.pairwise(spans):
        if b.start < a.end:
            raise TrainingDataError(
                f"overlapping entity spans {a.text!r} and {b.text!r}", path, line
            )
    return "".join(out), spans


def write_training_data(examples: Iterable[tuple[str, str]], path: Path) -> None:
    """Write ``(text, intent)`` pairs as a Rasa NLU file (used for CV folds and tests)."""
    by: dict[str, list[str]] = {}
    for text, intent in examples:
        by.setdefault(intent, []).append(text)
    lines = ['version: "3.1"', "nlu:"]
    for intent in sorted(by):
        lines.append(f"- intent: {intent}")
        lines.append("  examples: |")
        lines.extend(f"    - {t}" for t in by[intent])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def mapping_examples(data: Mapping[str, Iterable[str]]) -> list[tuple[str, str]]:
    return [(t, intent) for intent, texts in data.items() for t in texts]
