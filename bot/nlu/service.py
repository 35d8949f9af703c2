"""``NluService``: the one object the dialogue talks to.

Built by the composition root with the registry, the models directory and the settings.
``start()`` loads the newest saved model that matches the training data (or trains and
saves one); ``parse`` is synchronous and CPU-bound, ``aparse`` runs it in an executor — or
asks a Rasa server when ``nlu_backend = "rasa"``, falling back to the built-in classifier
on any Rasa failure. Whatever classified the message, the keyword emergency layer runs on
it too, and entities always come from the registry-aware extractor.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import pickle
import re
import subprocess
import sys
import threading
import time
from collections.abc import Collection
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from datetime import date
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.domain import Registry
from bot.nlu.classifier import ClassifierConfig, IntentClassifier
from bot.nlu.crisis import CrisisRules
from bot.nlu.crisis_model import (
    CrisisDecision,
    CrisisModel,
    CrisisVetter,
    crisis_decision,
    is_saved,
    load_or_train,
    load_or_train_vetter,
)
from bot.nlu.data import TrainingData, load_training_data
from bot.nlu.encoder import MemoEncoder, SentenceEncoder, Usem3SentenceEncoder
from bot.nlu.entities import EntityExtractor
from bot.nlu.errors import NluError, RasaUnavailable
from bot.nlu.model import (
    TrainedModel,
    data_hash,
    has_saved,
    load_latest,
    save_model,
    train,
    training_lock,
)
from bot.nlu.rasa import RasaNluClient
from bot.nlu.types import (
    ACTION_INTENTS,
    EMERGENCY,
    FALLBACK,
    Entity,
    IntentScore,
    ParseResult,
)
from bot.segmenter import share_dictionary

if TYPE_CHECKING:
    import aiohttp

    from bot.settings import Settings

log = logging.getLogger(__name__)

COURTESY_INTENTS = frozenset({"greet", "thank", "goodbye"})
"""Intents a courtesy opening gives a message whatever follows it."""
SMALL_TALK_INTENTS = frozenset(
    {"greet", "thank", "goodbye", "affirm", "deny", "chitchat", "nlu_fallback"}
)
_SEP = r"[\s,，。.!！~～、:：;；]"
COURTESY = re.compile(
    # openings that may run straight on into the question ("你好请问…", "打扰一下电梯…")
    r"^(?:(?:(?:你们好|你好|您好|侬好|大家好|哈喽|哈啰|早上好|上午好|中午好|下午好|晚上好|"
    r"在吗|在不在|有人在吗|有人吗|打扰(?:一下|了|您了|你了)?|不好意思|"
    r"麻烦(?:问|咨询)?一?下|请问一?下?|我?想(?:问|咨询)一?下|我?想问问|咨询一?下|再问一?下)"
    r"[呀啊哈呢哦喔]*" + _SEP + r"*"
    # and words that are openings only when set apart ("谢谢，那…", "hi 电梯…", "好的，还有…")
    r"|(?:谢谢(?:您|你)?|多谢|感谢|好的|好|嗯|哦|那|对了|还有|嗨|hi|hello)[呀啊哈呢哦喔]*"
    + _SEP
    + r"+))+",
    re.IGNORECASE,
)
"""Greetings, thanks and asking-words a message may open with before what it is about."""


def after_courtesy(text: str) -> str:
    """What ``text`` says after its courtesy opening ("你好，", "谢谢，那", "打扰一下，"); empty
    when it opens with none, or says nothing more (two letters or digits at least)."""
    found = COURTESY.match(text.strip())
    if found is None:
        return ""
    rest = text.strip()[found.end() :]
    return rest if sum(ch.isalnum() for ch in rest) >= 2 else ""


DECISION_MEMO_SIZE = 4096
"""Crisis decisions remembered (the memo is emptied when full, as the classifier's is)."""
DECISION_MEMO_CHARS = 256
"""Only messages up to this long are remembered: repeated questions are short."""


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Confidence needed to commit to an intent (calibrated probabilities).

    ``action``: for intents that start work (ticket, FAQ answer, handover, vote);
    ``other``: for the rest (greetings, yes/no, small talk, out_of_scope);
    ``emergency``: the crisis classifier's probability of a crisis that is enough when the
    crisis rules found nothing and the message does not read like a look-alike. The rules
    (``intents/crisis.yml``) are the primary detector and the classifier
    (``bot/nlu/crisis_model.py``) the second net. Chosen on data the classifier was not
    trained on: at 0.7 it alone finds 0.957 of the crisis set's tune half (0.963 at 0.5)
    while flagging 8 of 5,235 ordinary messages (``shared/eval`` out-of-scope and resident
    questions; 27 at 0.5).
    """

    action: float = 0.5
    other: float = 0.3
    emergency: float = 0.7


class NluService:
    def __init__(
        self,
        registry: Registry | None,
        models_dir: Path,
        settings: Settings | None = None,
        *,
        intents_dir: Path | None = None,
        encoder: SentenceEncoder | None = None,
        session: aiohttp.ClientSession | None = None,
        rasa: RasaNluClient | None = None,
        thresholds: Thresholds | None = None,
        config: ClassifierConfig | None = None,
        executor: Executor | None = None,
        save_trained: bool = True,
        train_apart: str | None = None,
        train_jobs: int = 1,
    ) -> None:
        """``session``: the app's aiohttp session, used for the Rasa backend when the
        settings select it (``nlu_backend = "rasa"`` and ``rasa_url``). ``rasa``: a ready
        client instead. ``executor``: where ``aparse`` runs (default: the loop's).
        ``train_apart``: the spec of ``encoder`` (``bot.encoders.load_encoder``; its shared
        table in ``models_dir``): models the folder lacks are then trained and saved by a
        child process and loaded from the folder, so a serving process never holds
        scikit-learn and the training's buffers (some 200 MB it would keep until it exits);
        should the child fail, the training happens here as without it. ``train_jobs``: the
        worker processes a model this service trains fits its parts in (``IntentClassifier.fit``;
        1: in this process)."""
        self.registry = registry
        self.models_dir = Path(models_dir)
        self._train_jobs = train_jobs
        self.intents_dir = Path(
            intents_dir
            if intents_dir is not None
            else (settings.intents_dir if settings is not None else "intents")
        )
        # Both classifiers read each message: the memo encodes it (and its words) once; the
        # app hands the same memo to the FAQ search, which then reuses the message's vector.
        self.encoder: SentenceEncoder = MemoEncoder.over(encoder or Usem3SentenceEncoder())
        self.thresholds = thresholds or Thresholds()
        self.config = config or ClassifierConfig()
        self._executor = executor
        self._save = save_trained
        self._train_apart = train_apart
        if rasa is None and settings is not None and settings.nlu_backend == "rasa":
            if not settings.rasa_url:
                raise NluError('nlu_backend = "rasa" needs rasa_url')
            if session is None:
                raise NluError('nlu_backend = "rasa" needs the app\'s aiohttp session')
            rasa = RasaNluClient(session, settings.rasa_url, timeout_s=settings.rasa_timeout_s)
        self.rasa = rasa
        self._lock = threading.Lock()
        self._model: TrainedModel | None = None
        self._data: TrainingData | None = None
        self._crisis: CrisisRules | None = None
        self._crisis_model: CrisisModel | None = None
        self._crisis_vetter: CrisisVetter | None = None
        self._decisions: dict[tuple[str, str | None, float], CrisisDecision] = {}
        """The crisis layer's decisions on recent short texts (see ``_crisis_decision``)."""
        self._decisions_lock = threading.Lock()
        self._extractors: dict[str | None, EntityExtractor] = {}

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> TrainedModel:
        """Load the newest model matching ``intents_dir`` or train (and save) one.

        Idempotent; safe to call from several threads. Raises TrainingDataError if the
        training data is malformed.
        """
        with self._lock:
            if self._model is not None:
                return self._model
            data = load_training_data(self.intents_dir)
            self._crisis = CrisisRules.load(self.intents_dir)
            wanted = data_hash(data, self.encoder.name, self.config)
            if self._save and self._train_apart is not None:
                self._train_missing_apart(data, wanted, self._train_apart)
            model = load_latest(self.models_dir, data_hash=wanted, encoder=self.encoder)
            if model is None and self._save:
                with training_lock(self.models_dir, "nlu"):
                    # another process on this directory may have trained it while we waited
                    model = load_latest(self.models_dir, data_hash=wanted, encoder=self.encoder)
                    if model is None:
                        model = self._train(data)
            elif model is None:
                model = self._train(data)
            else:
                log.info("NLU model loaded from %s", model.path)
            self._crisis_model = load_or_train(
                self.models_dir,
                self.intents_dir,
                data,
                self._crisis,
                self.encoder,
                config=self.config,
                save=self._save,
                jobs=self._train_jobs,
            )
            if self._crisis_model is not None:
                self._crisis_model.classifier.share_words(model.classifier)
            self._crisis_vetter = load_or_train_vetter(
                self.models_dir,
                self.intents_dir,
                self.encoder,
                config=self.config,
                save=self._save,
                jobs=self._train_jobs,
            )
            if self._crisis_vetter is not None:
                self._crisis_vetter.classifier.share_words(model.classifier)
            self._data = data
            self._model = model
            # warm up the encoder, jieba and OpenCC before the first resident waits
            model.classifier.rank("你好")
            return model

    def _train_missing_apart(self, data: TrainingData, wanted: str, spec: str) -> None:
        """Train and save, in a child process, the models ``models_dir`` lacks."""
        assert self._crisis is not None
        name = self.encoder.name
        if has_saved(self.models_dir, data_hash=wanted, encoder_name=name) and is_saved(
            self.models_dir, self.intents_dir, data, self._crisis, name, self.config
        ):
            return
        log.info("training the NLU models in a child process from %s", self.intents_dir)
        config = base64.b64encode(pickle.dumps(self.config)).decode()
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        code = "import sys; from bot.nlu.service import train_models; train_models(*sys.argv[1:])"
        args = [str(self.models_dir), str(self.intents_dir), spec, config]
        try:
            done = subprocess.run([sys.executable, "-c", code, *args], env=env, check=False)  # noqa: S603
        except OSError as exc:
            log.warning("cannot start the training process (%s): training here", exc)
            return
        if done.returncode != 0:
            log.warning(
                "training in a child process failed (exit code %s): training here",
                done.returncode,
            )

    def _train(self, data: TrainingData) -> TrainedModel:
        log.info("training the NLU model from %s", self.intents_dir)
        model = train(data, encoder=self.encoder, config=self.config, jobs=self._train_jobs)
        if self._save:
            save_model(model, self.models_dir)
        log.info(
            "NLU model trained in %.1fs (%s)",
            model.classifier.report.seconds,
            model.path or "not saved",
        )
        return model

    async def astart(self) -> TrainedModel:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.start)

    @property
    def model(self) -> TrainedModel:
        return self._model if self._model is not None else self.start()

    @property
    def crisis(self) -> CrisisRules:
        """The crisis rules (``intents/crisis.yml``), loaded with the model."""
        if self._crisis is None:
            self.start()
        assert self._crisis is not None
        return self._crisis

    @property
    def crisis_model(self) -> CrisisModel | None:
        """The crisis classifier (None without crisis examples), loaded with the model."""
        if self._model is None:
            self.start()
        return self._crisis_model

    @property
    def crisis_vetter(self) -> CrisisVetter | None:
        """The vetting model (None without contrast pairs), loaded with the model."""
        if self._model is None:
            self.start()
        return self._crisis_vetter

    @property
    def classifier(self) -> IntentClassifier:
        return self.model.classifier

    def extractor(self, committee: str | None = None) -> EntityExtractor:
        ext = self._extractors.get(committee)
        if ext is None:
            data = self._data
            ext = EntityExtractor(
                self.registry,
                synonyms=data.synonyms if data else None,
                lookups=data.lookups if data else None,
                regexes=data.regexes if data else None,
                committee=committee,
            )
            self._extractors[committee] = ext
        return ext

    # -- parsing -----------------------------------------------------------------------------
    def parse(
        self,
        text: str,
        *,
        expected: Collection[str] = (),
        today: date | None = None,
        committee: str | None = None,
        scan: str | None = None,
    ) -> ParseResult:
        """Classify and extract with the built-in model (CPU-bound: ~2 ms).

        ``expected``: entities the dialogue just asked for (see ``EntityExtractor``);
        ``committee``: restrict compound names to that committee's; ``scan``: the whole
        message when ``text`` is its (bounded) head — the crisis rules read all of it.
        """
        text = text if isinstance(text, str) else str(text)
        classifier = self.classifier  # loads or trains the model on first use
        entities = tuple(self.extractor(committee).extract(text, expected=expected, today=today))
        if not text.strip():
            return ParseResult(text=text, intent=FALLBACK, confidence=0.0, entities=entities)
        ranking = tuple(IntentScore(n, p) for n, p in classifier.rank(text))
        if ranking and ranking[0].name in COURTESY_INTENTS:
            rest = after_courtesy(text)
            if rest:
                # "你好，居委会周末有人吗": a greeting or thanks before a question does not make
                # the question small talk; what follows the courtesy decides, unless it is
                # small talk too ("你好，在吗" stays a greeting)
                own = tuple(IntentScore(n, p) for n, p in classifier.rank(rest))
                if own and own[0].name not in SMALL_TALK_INTENTS:
                    ranking = own
        return self._decide(text, ranking, entities, scan, "builtin")

    async def aparse(
        self,
        text: str,
        *,
        expected: Collection[str] = (),
        today: date | None = None,
        committee: str | None = None,
        scan: str | None = None,
    ) -> ParseResult:
        """``parse`` off the event loop, or via the Rasa server when configured."""
        if self.rasa is not None and text.strip():
            started = time.perf_counter()
            try:
                remote = await self.rasa.parse(text)
            except RasaUnavailable as exc:
                log.warning("Rasa NLU unavailable, using the built-in model: %s", exc)
            else:
                log.debug("rasa parse in %.1f ms", (time.perf_counter() - started) * 1000)
                return self._from_rasa(text, remote, expected, today, committee, scan)
        loop = asyncio.get_running_loop()
        call = partial(
            self.parse, text, expected=expected, today=today, committee=committee, scan=scan
        )
        return await loop.run_in_executor(self._executor, call)

    def reread(self, reading: ParseResult, *, scan: str | None = None) -> ParseResult:
        """``reading`` (an earlier built-in ``parse`` of the same text) decided again as
        ``parse`` decides: the crisis layer reads the message now (``scan``: the whole of
        it), the intent follows from the reading's ranking and entities. How a cached
        reading is served: a crisis is never taken from, nor hidden by, a cache."""
        return self._decide(reading.text, reading.ranking, reading.entities, scan, reading.backend)

    def _from_rasa(
        self,
        text: str,
        remote: ParseResult,
        expected: Collection[str],
        today: date | None,
        committee: str | None,
        scan: str | None = None,
    ) -> ParseResult:
        self.model  # noqa: B018 - training data (synonyms, lookups) must be loaded
        ours = self.extractor(committee).extract(text, expected=expected, today=today)
        merged = list(ours)
        for e in remote.entities:
            if not any(e.start < o.end and o.start < e.end for o in ours):
                merged.append(e)
        merged.sort(key=lambda e: e.start)
        ranking = remote.ranking or (IntentScore(remote.intent, remote.confidence),)
        result = self._decide(text, ranking, tuple(merged), scan, "rasa")
        if result.intent == FALLBACK and remote.intent == FALLBACK:
            return replace(result, confidence=remote.confidence)
        return result

    def _decide(
        self,
        text: str,
        ranking: tuple[IntentScore, ...],
        entities: tuple[Entity, ...],
        scan: str | None,
        backend: str,
    ) -> ParseResult:
        th = self.thresholds
        decision = self._crisis_decision(text, scan, th.emergency)
        hit = decision.hit
        if hit is not None:
            confidence = 1.0 if decision.rules_hit is not None else decision.p_urgent
            return ParseResult(text, EMERGENCY, confidence, ranking, entities, hit, backend)
        # Not a crisis: the best of the other intents decides (an unconfirmed
        # report_emergency never reaches the routes as an intent).
        others = [r for r in ranking if r.name != EMERGENCY]
        best = others[0] if others else IntentScore(FALLBACK, 0.0)
        needed = th.action if best.name in ACTION_INTENTS else th.other
        intent = best.name
        if intent != FALLBACK and best.confidence < needed:
            intent = FALLBACK
        extra = _crisis_reading(decision)
        return ParseResult(text, intent, best.confidence, ranking, entities, None, backend, extra)

    def crisis_decision(self, text: str, scan: str | None = None) -> CrisisDecision:
        """What the crisis layer makes of ``text`` (``parse`` reads it the same way): the
        crisis, what the rules alone found, and what the vetting model took back."""
        self.start()
        return self._crisis_decision(text, scan, self.thresholds.emergency)

    def _crisis_decision(self, text: str, scan: str | None, threshold: float) -> CrisisDecision:
        """``crisis_decision`` of ``text`` (and ``scan``), remembered for short texts: a pure
        function of the text for the rules and the model this process loaded once (neither
        is ever replaced: ``start`` sets them under its lock, once), so a repeated message (a
        burst of one question after a notice) gets the decision it would get computed again,
        without the ≈ 300 rules and the look-alike checks running again."""
        rules, model, vetter = self.crisis, self._crisis_model, self._crisis_vetter
        whole = scan if scan is not None else text
        if len(whole) > DECISION_MEMO_CHARS:
            return crisis_decision(
                rules, model, text, threshold=threshold, scan=scan, vetter=vetter
            )
        key = (text, scan, threshold)
        found = self._decisions.get(key)
        if found is not None:
            return found
        decision = crisis_decision(
            rules, model, text, threshold=threshold, scan=scan, vetter=vetter
        )
        with self._decisions_lock:
            if len(self._decisions) >= DECISION_MEMO_SIZE:
                self._decisions.clear()
            self._decisions[key] = decision
        return decision

    def info(self) -> dict[str, Any]:
        m = self.model
        return {
            "backend": "rasa" if self.rasa is not None else "builtin",
            "rasa_url": self.rasa.base_url if self.rasa is not None else None,
            "model": str(m.path) if m.path else None,
            **{k: m.manifest.get(k) for k in ("created", "intents", "n_examples", "encoder")},
        }


CRISIS_READING = "crisis_reading"
"""``ParseResult.extra`` key: the crisis classifier's reading of a message in which nothing was
found and that does not read like a look-alike (``_crisis_reading``)."""


def _crisis_reading(decision: CrisisDecision) -> dict[str, Any]:
    """What the crisis classifier made of a message in which neither it nor the rules found a
    crisis, when the message does not read like a look-alike: ``p_urgent`` (below the
    threshold), its top ``category`` and ``p_self_harm``. A check-in asks about a message
    read high enough (``bot.dialogue.routes.care.CheckInRoute``). Empty otherwise."""
    guess = decision.guess
    if guess is None or decision.calm or decision.hit is not None:
        return {}
    return {
        CRISIS_READING: {
            "p_urgent": round(guess.p_urgent, 4),
            "category": guess.category.value,
            "p_self_harm": round(guess.p_self_harm, 4),
        }
    }


def train_models(models_dir: str, intents_dir: str, encoder_spec: str, config: str) -> None:
    """Train and save the intent and crisis models ``models_dir`` lacks: what the child process
    of ``NluService(train_apart=...)`` runs (``config``: the pickled ``ClassifierConfig``, in
    base64, as the parent passes it)."""
    from bot.encoders import load_encoder

    folder = Path(models_dir)
    cfg = pickle.loads(base64.b64decode(config))  # noqa: S301 - from the parent process
    if not isinstance(cfg, ClassifierConfig):
        raise NluError("not a classifier configuration")
    encoder = load_encoder(encoder_spec, share_dir=folder)
    share_dictionary(folder)
    NluService(None, folder, intents_dir=Path(intents_dir), encoder=encoder, config=cfg).start()
