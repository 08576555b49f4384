"""The reader: question + passages -> judged evidence -> a short cited answer, or an abstention.

1. **Candidates** are the sentences of the retrieved passages (a sentence addressed to an AI
   assistant never is one, ``retrieval/guard.py``), each with what it needs to be read right:
   its article's headline and date, and the sentence before it when it opens with a pronoun
   or a quotation.
2. **Pre-ranking** is cheap: cosine similarity to the question plus the share of the
   question's content words the sentence (with its context) holds. Only the best ``JUDGED``
   are shown to the model.
3. **The judge** is the model, one prompt per sentence: the headline, date and sentence, then
   the question, then "Does the sentence answer the question? Reply no, or yes: and the
   answer.", after worked examples (``prompts/judge_examples.txt``: invented near misses and
   answers on other topics, read once per process). Its score is P(yes) from the first answer
   token (a service without log-probabilities answers yes or no). The question after the
   sentence separated answers from near misses far better than before it (question-level AUC
   0.95 against 0.74 on 40 development questions); the examples raised it again (0.86-0.87 to
   0.89-0.91 on 190 development questions).
4. **Checks in code**, on entities, not wording: a year the question names must occur in the
   sentence's article (text, headline or date); a capitalised name the question uses must
   occur, in some form, in a retrieved passage.
5. **Decide**: below ``threshold`` nothing is evidence and the reader abstains, listing the
   closest passages. Otherwise the best judged sentence (with its context) is the evidence.
6. **Phrase**: the short answer is what the model writes after its "yes:" for the evidence
   (a local model continues its cached judgement). It is kept only when every word of it
   (normalised for case, accents, digits and number words, date order) occurs in the cited
   sentence and it says something the question does not ("Who replaced Koval?" is not
   answered by "Koval"). Evidence that yields no such answer is no evidence: the next judged
   sentence gets the same chance, then the reader abstains.
7. **Disagreement**: when the short answer is a number or date and another article's judged
   sentence gives a different one for the question, the answer says the articles disagree
   and cites each side.

The model-free reader (``NEWSDESK_LLM=none``) keeps steps 1, 2, 4 and 5 with one threshold
on the pre-ranking score: weaker, and measured as such in the README.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Sequence

from retrieval.chunking import sentence_spans
from retrieval.errors import BackendError
from retrieval.guard import is_instruction, neutralise_markers
from retrieval.prompts import load_prompt, load_records
from retrieval.search import QUERY_STOPWORDS, fold, terms, words_of
from retrieval.types import Answer, Citation, Passage

JUDGED = 3  # sentences shown to the judge per question
MAX_WORDS = 60  # an answer longer than this is cut at clause punctuation
THRESHOLDS = {"local": 0.1, "remote": 0.5, "none": 0.40}  # calibrated in README "Calibration"
VECTOR_CACHE = 50_000  # sentence embeddings kept in memory (about 80 MB at most)
HEADER_CHARS = 300  # an article's date is looked for in its first characters (the dateline)
YES_NO = "yes/no"  # the model answered a yes/no question: the quote is the answer
YEAR_RE = re.compile(r"\b(?:1[89]|20)\d\d\b")
DATE_RE = re.compile(r"\b(?:(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.? \d{1,2},? \d{4}"
                     r"|\d{1,2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]* \d{4}"
                     r"|\d{4}-\d\d-\d\d)\b")
NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty".split())}
NUMBER_WORDS.update({"thirty": "30", "forty": "40", "fifty": "50", "sixty": "60", "seventy": "70",
                     "eighty": "80", "ninety": "90", "hundred": "100", "dozen": "12"})
COMPASS = {"nort", "sout", "east", "west", "midd", "cent"}
MONTHS = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}
OPENERS = ("he ", "she ", "they ", "his ", "her ", "their ", "it ", "its ", "this ", "that ", "these ",
           "those ", "the move", "the decision", '"', "“", "‘", "'")


@dataclass
class Candidate:
    source: str
    title: str
    start: int
    end: int
    text: str
    rank: int  # best rank of a passage holding it
    date: str = ""
    context: "Candidate | None" = None  # the sentence before, when this one leans on it
    article: str = ""  # the whole article text (for the entity checks)
    passage: str = ""  # the retrieved passage holding it
    score: float = 0.0  # pre-ranking
    p_yes: float | None = None  # the judge's


@dataclass
class Reading:
    """What the reader decided, before verification."""

    abstained: bool
    evidence: list[Candidate] = field(default_factory=list)
    short_answer: str | None = None
    conflict: list[tuple[str, Candidate]] = field(default_factory=list)  # (value, sentence) per side
    confidence: float = 0.0
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------ normalising
def norm_tokens(text: str) -> list[str]:
    """Folded words, digits without separators, number words as digits, ordinals stripped."""
    text = re.sub(r"(?<=\d)[,.](?=\d{3}\b)", "", fold(text))
    out = []
    for w in words_of(text):
        w = NUMBER_WORDS.get(w, w)
        if w[:1].isdigit() and w[-2:] in ("st", "nd", "rd", "th"):
            w = w[:-2]
        out.append(w)
    return out


def _singular(word: str) -> str:
    """years -> year, runners -> runner (not glass, census, crisis)."""
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")) else word


def supports(sentence: str, short: str) -> bool:
    """Every content word of ``short`` occurs in ``sentence`` (normalised; singular or plural; date
    order free; a word of five letters or more may differ after its fifth: kilometers ~ kilometres)."""
    want = [_singular(w) for w in norm_tokens(short) if w not in QUERY_STOPWORDS]
    have = {_singular(w) for w in norm_tokens(sentence)}
    stems = {w[:5] for w in have if len(w) >= 5 and not w[:1].isdigit()}
    return bool(want) and all(w in have or (len(w) >= 5 and not w[:1].isdigit() and w[:5] in stems)
                              for w in want)


def adds_nothing(question: str, short: str) -> bool:
    """The short answer only repeats words of the question ("Who replaced Koval?" -> "Koval")."""
    words = [w for w in norm_tokens(short) if w not in QUERY_STOPWORDS]
    return set(words) <= set(norm_tokens(question))


def numeric(text: str) -> bool:
    return any(w[:1].isdigit() for w in norm_tokens(text))


def counted(sentence: str, value: str) -> str | None:
    """What ``value``'s number counts in ``sentence``: the first content word after it
    ("Nineteen runners were taken..." -> "runner"), so 19 runners and a 212-page report are
    never reported as a disagreement."""
    digits = {w for w in norm_tokens(value) if w[:1].isdigit()}
    tokens = norm_tokens(sentence)
    for i, w in enumerate(tokens):
        if w in digits:
            after = [t for t in tokens[i + 1:i + 4] if t not in QUERY_STOPWORDS and not t[:1].isdigit()]
            return after[0][:5] if after else None
    return None


def judge_prompt(question: str, title: str, date: str, previous: str, sentence: str) -> str:
    context = f"Previous sentence: {' '.join(previous.split())}\n" if previous else ""
    return load_prompt("judge_user").format(question=question, title=title, date=date or "not given",
                                            context=context, sentence=" ".join(sentence.split()))


@lru_cache(maxsize=1)
def judge_examples() -> tuple[tuple[str, str], ...]:
    """The judge's system prompt and worked examples (``prompts/judge_examples.txt``) as turns."""
    turns = [("system", load_prompt("judge_system"))]
    for r in load_records("judge_examples"):
        turns += [("user", judge_prompt(r["question"], r["title"], r.get("date", ""), r.get("previous", ""),
                                        r["sentence"])), ("assistant", f"yes: {r['answer']}" if r.get("answer") else "no")]
    return tuple(turns)


# ------------------------------------------------------------------ the reader
class Reader:
    """Judges candidate sentences with ``generator`` (None: the model-free reader)."""

    def __init__(self, generator, embeddings, verifier, threshold: float | None = None):
        self.generator = generator
        self.embeddings = embeddings
        self.verifier = verifier
        kind = "none" if generator is None else ("local" if generator.id == "local" else "remote")
        self.threshold = THRESHOLDS[kind] if threshold is None else threshold
        self._spans: dict[str, tuple[str, list[tuple[int, int]]]] = {}
        self._vectors: dict[str, list[float]] = {}  # sentence embeddings, reused across questions

    # -------------------------------------------------------------- follow-ups
    def rewrite(self, question: str, history: Sequence[Sequence[str]]) -> str:
        """A follow-up rewritten by the model into a standalone question, kept only when every
        word of it comes from the conversation or the question."""
        turns = [(str(q), str(a)) for q, a, *_ in history if str(q).strip()][-2:]
        if not turns or self.generator is None:
            return question
        convo = "\n".join(f"User: {q}\nBot: {' '.join(a.split())[:300]}" for q, a in turns)
        try:
            reply = self.generator.chat([("system", load_prompt("rewrite_system")), ("user", load_prompt(
                "rewrite_user").format(conversation=convo, question=question))])
        except BackendError:
            return question
        reply = " ".join(reply.strip().splitlines()[:1]).strip().strip('"“”')
        allowed = set(words_of(convo + " " + question))
        if not reply or len(reply) > 3 * len(question) + 200 or not set(words_of(reply)) <= allowed:
            return question
        return reply

    # -------------------------------------------------------------- candidates
    def _document(self, source: str) -> tuple[str, list[tuple[int, int]]]:
        text = (self.verifier.text(source) if self.verifier else None) or ""
        cached = self._spans.get(source)
        if cached is None or cached[0] is not text:  # the verifier re-reads a changed file
            cached = self._spans[source] = (text, sentence_spans(text, 0, len(text)) if text else [])
        return cached

    def candidates(self, passages: Sequence[Passage]) -> list[Candidate]:
        out: dict[tuple[str, int], Candidate] = {}
        for rank, p in enumerate(passages):
            doc, doc_spans = self._document(p.source)
            date = DATE_RE.search(doc[:HEADER_CHARS]) if doc else None
            for a, b in sentence_spans(p.text, 0, len(p.text)):
                key = (p.source, p.start + a)
                text = p.text[a:b]
                if key in out or is_instruction(text) or len(text.split()) < 3:
                    continue
                c = Candidate(p.source, p.title, p.start + a, p.start + b, text, rank,
                              date.group(0) if date else "", article=doc, passage=p.text)
                if text.lower().startswith(OPENERS) and doc:
                    before = [s for s in doc_spans if s[1] <= c.start]
                    if before and doc[before[-1][0]:before[-1][1]] != p.title:
                        s0, e0 = before[-1]
                        c.context = Candidate(p.source, p.title, s0, e0, doc[s0:e0], rank, c.date)
                out[key] = c
        return list(out.values())

    def prerank(self, question: str, qvec: Sequence[float], cands: list[Candidate]) -> list[Candidate]:
        if not cands:
            return []
        todo = list(dict.fromkeys(c.text for c in cands if c.text not in self._vectors))
        if todo:
            if len(self._vectors) > VECTOR_CACHE:
                self._vectors.clear()
            self._vectors.update(zip(todo, self.embeddings.embed_documents(todo)))
        vecs = [self._vectors[c.text] for c in cands]
        qterms = set(terms(question))
        for c, v in zip(cands, vecs):
            dense = sum(x * y for x, y in zip(qvec, v)) / (math.sqrt(sum(x * x for x in qvec)) or 1.0)
            have = set(terms(c.text + " " + (c.context.text if c.context else "")))
            overlap = len(qterms & have) / len(qterms) if qterms else 0.0
            c.score = 0.5 * dense + 0.5 * overlap - 0.02 * c.rank
        return sorted(cands, key=lambda c: -c.score)

    @staticmethod
    def year_ok(question: str, c: Candidate) -> bool:
        """A year the question names occurs in the sentence's article (text, headline or date)."""
        where = " ".join([c.article or c.passage or c.text, c.title, c.date])
        return all(y in where for y in YEAR_RE.findall(question))

    @staticmethod
    def unknown_name(question: str, passages: Sequence[Passage]) -> str | None:
        """A name the question uses (a capitalised word after the first; months and compass
        words aside) that no retrieved passage holds in any form (its first four letters:
        China for Chinese)."""
        have = {w[:4] for p in passages for w in words_of(p.title + " " + p.text)}
        for word in re.findall(r"(?<=\s)[A-Z][\w'’-]{3,}", question):
            w = fold(word)
            if w not in QUERY_STOPWORDS and w[:3] not in MONTHS and w[:4] not in COMPASS and w[:4] not in have:
                return word
        return None

    # -------------------------------------------------------------- judging
    def _judge_messages(self, question: str, c: Candidate) -> list[tuple[str, str]]:
        """The judge's instructions, its worked examples as earlier turns, then this sentence."""
        return [*judge_examples(), ("user", self._judge_prompt(question, c))]

    @staticmethod
    def _judge_prompt(question: str, c: Candidate) -> str:
        return judge_prompt(question, c.title, c.date, c.context.text if c.context else "", c.text)

    def _short(self, question: str, c: Candidate) -> str | None:
        """The answer the judge gives after its "yes:" (a local model continues its cached
        judgement of ``c``); kept only when ``c`` (or its context) holds every word of it."""
        reply = self.generator.chat(self._judge_messages(question, c), max_tokens=24, start="yes:")
        reply = reply.strip().splitlines()[0].strip() if reply.strip() else ""
        if not norm_tokens(reply)[:1] == ["yes"]:
            return None  # a service that, asked again, says no
        reply = reply[3:].strip(" :,-").strip('"“”').rstrip(".")
        if norm_tokens(reply) in (["yes"], ["no"]):
            return YES_NO  # a yes/no answer is a reading of the sentence, not a phrase in it
        cited = c.text + " " + (c.context.text if c.context else "")
        if not reply or len(reply.split()) > 20 or not supports(cited, reply) or adds_nothing(question, reply):
            return None
        return reply

    def run(self, question: str, qvec: Sequence[float], passages: Sequence[Passage]) -> Reading:
        unknown = self.unknown_name(question, passages)
        if unknown:
            return Reading(abstained=True, notes=[f"no retrieved passage mentions {unknown}"])
        ranked = [c for c in self.prerank(question, qvec, self.candidates(passages)) if self.year_ok(question, c)]
        if not ranked:
            return Reading(abstained=True, notes=["no retrieved article is about the year the question names"])
        if self.generator is None:
            return self._without_model(ranked, self.threshold)
        judged = ranked[:JUDGED]
        try:
            # any order would do: a local model keeps each judgement's state, so the short answer
            # to any judged sentence continues it without re-reading the sentence
            for c in reversed(judged):
                c.p_yes = self.generator.yes_probability(self._judge_messages(question, c))
        except BackendError as exc:  # the model is unreachable: the model-free reading, said so
            reading = self._without_model(ranked, THRESHOLDS["none"])
            reading.notes.append(f"{exc} Answered without the model (the weaker pre-ranking).")
            return reading
        judged.sort(key=lambda c: (-(c.p_yes or 0.0), -c.score))
        best = judged[0]
        conf = round(best.p_yes or 0.0, 4)
        if (best.p_yes or 0.0) < self.threshold:
            return Reading(abstained=True, confidence=conf)
        # The evidence must yield a short answer the sentence holds and the question does not
        # already say; the next sentence judged above the threshold gets the same chance.
        try:
            for c in [c for c in judged if (c.p_yes or 0.0) >= self.threshold][:2]:
                short = self._short(question, c)
                if short:
                    reading = Reading(abstained=False, evidence=[c], short_answer=None if short is YES_NO else short,
                                      confidence=round(c.p_yes or 0.0, 4))
                    if short is not YES_NO and numeric(short):
                        self._disagreement(question, reading, judged)
                    return reading
        except BackendError as exc:
            return Reading(abstained=False, evidence=[best], confidence=conf,
                           notes=[f"{exc} The quote is shown without a short answer."])
        return Reading(abstained=True, confidence=conf,
                       notes=["the model found no answer in the evidence that the question does not already say"])

    @staticmethod
    def _without_model(ranked: list[Candidate], threshold: float) -> Reading:
        best = ranked[0]
        if best.score < threshold:
            return Reading(abstained=True, confidence=round(best.score, 4))
        return Reading(abstained=False, evidence=[best], confidence=round(best.score, 4))

    def _disagreement(self, question: str, reading: Reading, judged: list[Candidate]) -> None:
        """Another article's sentence, judged an answer too, that gives another number or date."""
        best = reading.evidence[0]
        for c in judged:
            if c.source == best.source or not numeric(c.text):
                continue
            if (c.p_yes or 0.0) < self.threshold:
                continue
            other = self._short(question, c)
            mine = {w for w in norm_tokens(reading.short_answer or "") if w[:1].isdigit()}
            theirs = {w for w in norm_tokens(other or "") if w[:1].isdigit()}
            unit = counted(best.text, reading.short_answer or "")
            if mine and theirs and mine != theirs and unit and unit == counted(c.text, other or ""):
                reading.conflict = [(reading.short_answer or "", best), (other or "", c)]
                reading.notes.append("sources disagree")
            return


# ------------------------------------------------------------------ rendering
def _trim(text: str, keep: str | None, limit: int) -> tuple[int, int]:
    """Offsets of a clause window of at most ``limit`` words, holding ``keep`` when given.
    Cuts only at clause punctuation, so the quote stays verbatim."""
    if len(text.split()) <= limit:
        return 0, len(text)
    bounds = [0] + [m.end() for m in re.finditer(r"[,;:—–]\s+", text)] + [len(text)]
    clauses = list(zip(bounds[:-1], bounds[1:]))
    centre = 0
    if keep:
        centre = next((i for i, (a, b) in enumerate(clauses) if supports(text[a:b], keep)), 0)
    lo = hi = centre
    grown = True
    while grown:
        grown = False
        for nlo, nhi in ((lo - 1, hi), (lo, hi + 1)):
            if 0 <= nlo and nhi < len(clauses) and len(text[clauses[nlo][0]:clauses[nhi][1]].split()) <= limit:
                lo, hi, grown = nlo, nhi, True
                break
    a, b = clauses[lo][0], clauses[hi][1]
    if len(text[a:b].split()) > limit:  # one clause longer than the limit: cut it at words
        words = [m.span() for m in re.finditer(r"\S+", text[a:b])]
        first = 0
        if keep:
            first = next((i for i in range(len(words)) if supports(text[a + words[i][0]:b], keep)
                          and not supports(text[a + words[min(i + 1, len(words) - 1)][0]:b], keep)), 0)
            first = max(0, min(first - limit // 3, len(words) - limit))
        a, b = a + words[first][0], a + words[first + limit - 1][1]
    seg = text[a:b]
    return a + len(seg) - len(seg.lstrip()), b - (len(seg) - len(seg.rstrip(" ,;:—–")))


def render(question: str, standalone: str, reading: Reading, passages: list[Passage], verifier,
           backend: str) -> Answer:
    """An Answer whose every citation is the file's exact text at its offsets."""
    if reading.abstained:
        return abstention(question, standalone, passages, backend, reading.notes, reading.confidence)
    parts: list[tuple[str | None, Candidate]] = []
    if reading.conflict:
        parts = list(reading.conflict)
    else:
        best = reading.evidence[0]
        if best.context is not None:
            parts.append((None, best.context))
        parts.append((reading.short_answer, best))
    lead_words = sum(len((v or "").split()) + 2 for v, _ in parts) + 3  # "The articles disagree: a [1] vs b [2]."
    budget = max(12, (MAX_WORDS - lead_words) // len(parts))
    citations, quotes = [], []
    for value, c in parts:
        a, b = _trim(c.text, value, budget)
        cit = Citation(id=len(citations) + 1, source=c.source, title=c.title, start=c.start + a,
                       end=c.start + b, quote=c.text[a:b])
        if not verifier.check(cit):
            continue  # a quote that does not match the file is never shown
        citations.append(cit)
        lead, tail = ("…" if a > 0 else ""), ("…" if b < len(c.text) else "")
        quotes.append((value, f"{lead}{neutralise_markers(cit.quote)}{tail} [{cit.id}]", cit))
    if not citations:
        return abstention(question, standalone, passages, backend, reading.notes + ["no quote verified"],
                          reading.confidence)
    short = reading.short_answer
    if short and not any(supports(cit.quote, short) for _, _, cit in quotes):
        short = None  # a short answer must be in a shown quote
    if reading.conflict and len(quotes) == len(parts):
        sides = " vs ".join(f"{v} [{cit.id}]" for v, _, cit in quotes)
        text = f"The articles disagree: {sides}. " + " ".join(q for _, q, _ in quotes)
        short = " vs ".join(v for v, _, _ in quotes)
    else:
        body = " ".join(q for _, q, _ in quotes)
        text = f"{short}. {body}" if short else body
    return Answer(question=question, standalone_question=standalone, answer=text, short_answer=short,
                  abstained=False, citations=citations, passages=passages, backend=backend,
                  notes=[n for n in reading.notes if n != "sources disagree" or reading.conflict],
                  confidence=reading.confidence)


def abstention(question: str, standalone: str, passages: list[Passage], backend: str,
               notes: Sequence[str] = (), confidence: float = 0.0) -> Answer:
    shown = " ".join((question or standalone).split())
    if len(shown) > 200:
        shown = shown[:200].rsplit(" ", 1)[0] + " …"
    text = (f"The articles don't say. None of them answers “{shown}”"
            + (" The closest passages are listed below." if passages else ""))
    return Answer(question=question, standalone_question=standalone, answer=text, short_answer=None,
                  abstained=True, citations=[], passages=passages, backend=backend, notes=list(notes),
                  confidence=confidence)
