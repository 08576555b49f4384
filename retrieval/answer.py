"""The chain: question -> standalone question -> passages -> answer -> verified citations.

The default backend is *extractive*: it answers with sentences quoted from the articles,
chosen by how well they match the question (meaning, words, and the kind of answer the
question asks for). An LLM backend may phrase the answer instead, but only quotes that
verify against the articles survive, and the extractive evidence test decides whether
to answer at all, so an invented answer cannot reach the user.
"""
from __future__ import annotations

import dataclasses
import math
import re
import time
from dataclasses import dataclass, field
from typing import Sequence

from retrieval.chunking import sentence_spans
from retrieval.guard import is_instruction, neutralise_markers
from retrieval.rewrite import BODY_WORDS, names
from retrieval.extract import AGE, DATE, ENTITY, NUMBER, PERSON, PLACE, PLACE_KIND_RE, TYPED, Candidate, QuestionInfo, attribution, candidates, classify, has_grain
from retrieval.search import QUERY_STOPWORDS, TOKEN_RE, fold, stopwords, terms, words_of
from retrieval.types import Answer, Citation, Passage

MAX_WORDS = 60
TYPE_WORDS = {DATE: {"day", "date", "year", "month", "time", "week"}}
MONTH_RE = re.compile(r"\b(?:January|February|March|April|May|June|July|August|September|October|November|December)\b")
YEAR_RE = re.compile(r"\b(?:1[89]|20)\d\d\b")
# "..., he said." / "said she": the speaker is named in an earlier sentence.
ATTRIBUTION_RE = re.compile(r"\b(?:he|she)\s+(?:said|added|says|told|wrote|warned|continued|stated|insisted)\b"
                            r"|\b(?:said|added|says)\s+(?:he|she)\b", re.IGNORECASE)
QUOTED_RE = re.compile(r"[\"“”]([^\"“”]{2,80})[\"“”]")
# "Which party ...": one body, answered by its name (unlike "which groups", "which allies")
NAMED_BODIES = {"party", "company", "firm", "newspaper", "agency", "network", "university", "ministry", "school",
                "team", "union"}
REQUIRED = TYPED - {ENTITY}  # question kinds whose answer must be in the evidence ("which groups" need not be a name)
WHY_RE = re.compile(r"^\W*(?:and\s+|but\s+|so\s+)?why\b|\bfor what reason\b|\bwhat (?:is|was) the reason\b"
                    r"|\bwhat (?:caused|prompted|led)\b", re.IGNORECASE)
# A sentence opening with one of these states a consequence of the sentence before it.
CONSEQUENCE_RE = re.compile(r"[“\"‘']?(?:Accordingly|Therefore|Consequently|Thus|Hence|As a result|For this reason|"
                            r"That is why|This is why)\b")
MID_SENTENCE_CAPITAL_RE = re.compile(r"(?<=[a-z,;:] )[A-ZÁÉÍÓÚÑ][\w’'-]+")
PRONOUN = re.compile(r"\b(he|she|they|his|her|their|him|them)\b", re.IGNORECASE)
W_SENTENCE = 0.35  # weight of the sentence's own word coverage in its score (the window's gets 0.5 minus this)
# Capitalised words after the first: "Chinese" in "What did the Chinese government say?"
NAME_SEQ_RE = re.compile(r"(?<=\s)(?:[A-ZÁÉÍÓÚÑ][\w’'-]*\s+)*[A-ZÁÉÍÓÚÑ][\w-]+")  # "Mayor Ana Ortiz"
PROPER_RE = re.compile(r"(?<=\s)[A-ZÁÉÍÓÚÑ][a-záéíóúñ]+(?:['’]s)?\b")
CALENDAR_WORDS = {"january", "february", "march", "april", "may", "june", "july", "august", "september",
                  "october", "november", "december", "monday", "tuesday", "wednesday", "thursday", "friday",
                  "saturday", "sunday"}
# Compass and region words in capitalised descriptors ("Middle Eastern country", "South American
# allies"): they describe where, and articles name the place itself ("Lebanon"), not the region.
REGION_WORDS = {"north", "south", "east", "west", "northern", "southern", "eastern", "western", "middle",
                "central", "northeast", "northwest", "southeast", "southwest", "northeastern", "northwestern",
                "southeastern", "southwestern"}
NAME_FORM_CREDIT = 0.7  # word-embedding credit for another form of a name (Spanish ~ Spain 0.75, ~ Russian 0.5)
# a quote attributed by a pronoun ("..., he added."): its speaker may be named paragraphs before
PRONOUN_SAID = re.compile(r"\b(?:he|she|they)\s+(?:said|says|added|adds|told|warned|stressed|insisted)\b"
                          r"|\b(?:said|added|told)\s+(?:he|she)\b", re.IGNORECASE)
QUALIFIER_SPAN = 3  # content words from a qualifier to the role after it: "Mexico's new leftist president"
KIND_MARGIN = 0.1  # how much nearer a "city" may be to "country" than to "city" (Washington 0.50/0.57)
PERSON_MARGIN = 0.3  # how much nearer a "person" name may be to country/organisation than to person
SOFT_TOP = 12  # sentences whose coverage also counts synonyms
EVIDENCE = 6  # sentences an LLM backend may phrase its answer from
# Words that ask about reporting rather than content ("according to the article, who said ...").
QUESTION_NOISE = {"accord", "articl", "report", "say", "said", "tell", "told", "mention", "describ",
                  "news", "stori", "write", "wrote", "name", "happen", "coverag", "caption", "photo", "identifi",
                  "quot", "cite", "piec", "outlet", "text", "sourc", "specif", "exact", "actual",
                  # and words about how reports compare ("the two figures given", "each account")
                  "differ", "figur", "give", "given", "each", "account", "version", "disagre", "conflict", "vari"}
# Words that only say what kind of answer is wanted ("how long", "how many", "how old").
QUESTION_WORDS = {"how", "what", "when", "where", "which", "who", "whom", "whose", "why", "many", "much", "long",
                  "old", "was", "were", "is", "are", "did", "does", "do", "has", "have", "had", "can", "could",
                  "would", "will", "should", "much", "kind", "sort", "type", "exactly", "also", "anyone", "someone"}


@dataclass
class Thresholds:
    """When to abstain. Tuned on the gold set; the held-out set checks they generalise."""

    min_confidence: float = 0.45  # mean of the best sentence's similarity and its word coverage
    min_dense: float = 0.20  # below this similarity nothing is an answer, whatever the words
    synonym_low: float = 0.40  # word similarity below this earns no credit ...
    synonym_high: float = 0.75  # ... and above this full credit as a synonym


@dataclass
class Sentence:
    source: str
    title: str
    start: int  # absolute offsets in the source's canonical text
    end: int
    text: str
    rank: int  # best rank of a passage holding it
    window: str  # sentence with its neighbours and the article title
    context: str = ""  # the sentence, plus the names of the previous one when it says "he", "she", "they"
    dense: float = 0.0
    coverage: float = 0.0
    missing: list[str] = field(default_factory=list)
    score: float = 0.0
    cands: list[Candidate] = field(default_factory=list)


@dataclass
class Draft:
    """An answer before verification: quotes point at (source, start, end)."""

    abstained: bool
    short_answer: str | None = None
    parts: list[Sentence] = field(default_factory=list)
    template: str = "{0}"  # {i} is replaced by part i's quote and marker (or just its id, if ids_only)
    notes: list[str] = field(default_factory=list)
    ids_only: bool = False  # True when the text is the LLM's own words with markers
    short_parts: list[str] | None = None  # pieces of short_answer that the quotes must show (default: split on " vs ")
    evidence: list[Sentence] = field(default_factory=list)  # the answer's sentences, then the next best (for an LLM)


def sentences_of(passages: list[Passage]) -> list[Sentence]:
    out: dict[tuple[str, int], Sentence] = {}
    for rank, p in enumerate(passages):
        spans = sentence_spans(p.text, 0, len(p.text))
        texts = [p.text[a:b] for a, b in spans]
        for i, (a, b) in enumerate(spans):
            key = (p.source, p.start + a)
            if key in out or is_instruction(texts[i]):
                continue  # an instruction to an assistant is never evidence (retrieval/guard.py)
            window = " ".join([p.title] + texts[max(0, i - 1): i + 2])
            context = texts[i]
            if i > 0 and PRONOUN.search(texts[i]):
                context = " ".join(names(texts[i - 1])) + " " + texts[i]
            out[key] = Sentence(p.source, p.title, p.start + a, p.start + b, texts[i], rank, window, context)
    return list(out.values())


class WordMatcher:
    """Exact stem match, else a synonym by word-embedding similarity (cached per word)."""

    def __init__(self, embeddings, low: float, high: float):
        self.embeddings, self.low, self.high = embeddings, low, high
        self._vec: dict[str, list[float]] = {}

    def _vectors(self, words: list[str]):
        todo = [w for w in words if w not in self._vec]
        if todo:
            for w, v in zip(todo, self.embeddings.embed_documents(todo)):
                self._vec[w] = v
        return [self._vec[w] for w in words]

    def credit(self, word: str, candidates: list[str]) -> float:
        """0..1: how close the nearest candidate word is in meaning (linear from LOW to HIGH)."""
        if not candidates:
            return 0.0
        import numpy as np

        q = np.asarray(self._vectors([word])[0])
        m = np.asarray(self._vectors(candidates))
        best = float((m @ q).max())
        return max(0.0, min(1.0, (best - self.low) / (self.high - self.low)))


class ExtractiveAnswerer:
    """Picks the sentences that answer the question, or abstains."""

    def __init__(self, embeddings, keyword, thresholds: Thresholds | None = None):
        self.embeddings, self.keyword = embeddings, keyword
        self.t = thresholds or Thresholds()
        self.words = WordMatcher(embeddings, self.t.synonym_low, self.t.synonym_high)

    # -------------------------------------------------------------- features
    def _question_terms(self, question: str, qtype: str = "", described: Sequence[str] = ()) -> list[tuple[str, str, float]]:
        """(stem, surface word, weight) for the question's informative words. ``described`` words
        say what the answer is ("Middle Eastern" country): the answer's sentence names it instead."""
        seen, out = {t for w in described for t in terms(w)}, []
        for word in words_of(question):
            if word in QUERY_STOPWORDS or word in QUESTION_WORDS or (len(word) < 2 and not word.isdigit()):
                continue
            if word in TYPE_WORDS.get(qtype, ()):
                continue  # "what year", "which month": the kind of answer, not something to find
            stem = terms(word)
            if not stem or stem[0] in seen or stem[0] in QUESTION_NOISE:
                continue
            seen.add(stem[0])
            out.append((stem[0], word, self.keyword.idf(stem[0])))
        return out

    def _coverage(self, qterms, text: str, soft: bool = True) -> tuple[float, list[str]]:
        """IDF-weighted share of the question's words found in ``text``: 1 for the same stem,
        a partial credit for a synonym by word-embedding similarity (``soft``)."""
        if not qterms:
            return 1.0, []
        have = set(terms(text))
        words = None
        total = sum(w for _, _, w in qterms)
        missing, got = [], 0.0
        for stem, word, weight in qterms:
            credit = 1.0 if stem in have else 0.0
            if not credit and soft and not word.isdigit():
                if words is None:
                    words = sorted({w for w in words_of(text)
                                    if w not in QUERY_STOPWORDS and len(w) > 2 and not w.isdigit()})
                credit = self.words.credit(word, words)
            got += weight * credit
            if credit < 0.5:
                missing.append(word)
        return got / total, missing

    # -------------------------------------------------------------- main
    def run(self, question: str, qvec: list[float], passages: list[Passage]) -> Draft:
        ranked: list[Sentence] = []
        draft = self._run(question, qvec, passages, ranked)
        if not draft.abstained:
            used = {(s.source, s.start) for s in draft.parts}
            draft.evidence = draft.parts + [s for s in ranked if (s.source, s.start) not in used][
                :max(0, EVIDENCE - len(draft.parts))]
        return draft

    def _run(self, question: str, qvec: list[float], passages: list[Passage], ranked: list[Sentence]) -> Draft:
        if not passages:
            return Draft(abstained=True, notes=["no passages"])
        info = classify(question)
        absent = self._unmentioned_name(question, passages, info.described)
        if absent:
            return Draft(abstained=True, notes=[f"no retrieved passage mentions {absent}"])
        qterms = self._question_terms(question, info.qtype, info.described)
        source = set(terms(attribution(question, (0,))))
        if source:
            # "According to the Chinese outlet's report": words naming a source no passage names
            everywhere = set(terms(" ".join(p.text for p in passages)))
            qterms = [t for t in qterms if t[0] not in source or t[0] in everywhere] or qterms
        sents = sentences_of(passages)
        vecs = self.embeddings.embed_documents([s.text for s in sents])
        import numpy as np

        q = np.asarray(qvec)
        qstems = {s for s, _, _ in qterms} | set(terms(question))
        # The speaker a question names counts for the sentence's neighbourhood, not the sentence:
        # "According to Pompeo, ..." is answered by the quote after the line that names Pompeo.
        spoken = set(terms(attribution(question)))
        own = [t for t in qterms if t[0] not in spoken] or qterms
        if info.qtype == PERSON or info.described or info.kind:
            # one embedding call for every name the person and place checks below will compare
            self.words._vectors(["person", "country", "organization", "city", "town", "capital", "nation"]
                                + sorted({c.text for s in sents for c in candidates(s.text, info.qtype)}))
        # Capitalised words within sentences: a word capitalised only where it opens a sentence
        # ("Meanwhile", "Severe") is no name.
        proper = {w for p in passages for w in MID_SENTENCE_CAPITAL_RE.findall(p.text)}
        # Pass 1 with exact word matches; pass 2 adds synonyms for the leading sentences only.
        for s, v in zip(sents, vecs):
            s.dense = float(np.asarray(v) @ q)
            s.cands = self._rank_candidates(s.text, info, qstems, proper)
            self._score(s, qterms, own, info, soft=False)
        sents.sort(key=lambda s: -s.score)
        for s in sents[:SOFT_TOP]:
            self._score(s, qterms, own, info, soft=True)
        sents.sort(key=lambda s: -s.score)
        ranked[:] = sents
        best = sents[0]
        self._last_best = best  # for diagnostics
        quoted = [fold(q).strip() for q in QUOTED_RE.findall(question) if fold(q).strip()]
        if quoted:
            # Words the asker put in quotes are the article's own words: prefer sentences that use them.
            exact = [s for s in sents if all(q in fold(s.text) for q in quoted)]
            if exact:
                best = exact[0]
                sents = exact + [s for s in sents if s not in exact]
        speaker = self._speaker(best, sents, proper) if info.qtype == PERSON and not best.cands else None
        if speaker:
            # "Who said X?" and the sentence saying X ends "..., he said.": answer with the person the
            # sentence before names, citing both sentences.
            prev, name = speaker
            if info.focus and not self._mentions(prev.text + " " + best.text, info.focus):
                return Draft(abstained=True, notes=[f"nothing in the evidence about the {info.focus} asked for"])
            confidence = 0.5 * best.dense + 0.5 * best.coverage
            if best.dense >= self.t.min_dense and confidence >= self.t.min_confidence:
                return Draft(abstained=False, short_answer=name, parts=[prev, best], template="{0} {1}")
        if info.qtype in REQUIRED:
            # Only a sentence holding the kind of answer asked for (a number, a date, a name) can answer.
            typed = [s for s in sents if s.cands]
            if not typed:
                return Draft(abstained=True, notes=[f"no {info.qtype} in the evidence"])
            if info.counted:
                # "How many people were injured?": a count of the people killed is no answer.
                verb = terms(info.counted)[:1]
                typed = [s for s in typed if not verb or verb[0] in set(terms(s.context or s.text))]
                if not typed:
                    return Draft(abstained=True, notes=[f"no count of what was {info.counted}"])
            if info.subset:
                # "How many of the people killed were soldiers?": a count of all the dead is no answer.
                subset = [w for w in words_of(info.subset) if w not in QUERY_STOPWORDS and len(w) > 2]
                typed = [s for s in typed if all(self._mentions(s.text, w) for w in subset)]
                if not typed:
                    return Draft(abstained=True, notes=[f"no count of those who were {info.subset}"])
            best = typed[0]
            sents = typed + [s for s in sents if not s.cands]
        if info.described:
            # "Which Middle Eastern country ...": of the close contenders, the sentence naming the
            # place nearest in meaning to the description (candidates are sorted by it)
            close = [s for s in sents[:SOFT_TOP] if s.cands and s.score >= best.score - 0.1]
            fits = self._fit(info, [s.cands[0].text for s in close])
            if close and close[int(fits.argmax())] is not best:
                best = close[int(fits.argmax())]
                sents = [best] + [s for s in sents if s is not best]
        if info.focus and info.qtype != NUMBER:
            # "Which party ...", "the name of the Brazilian president": the answering sentence must
            # speak of that role or body, not merely of the same people.
            # "The Brazilian president": Brazil must be named next to the role, not just nearby.
            named = info.qtype in REQUIRED or (info.qtype == ENTITY and info.focus in NAMED_BODIES)
            # "Which party does Juan Guaidó belong to?": a sentence about someone else's party is no answer.
            # The last word of each name ("Ortiz" of "Mayor Ana Ortiz"), qualifiers aside.
            subject = [w for w in _proper_words(x.split()[-1] for x in NAME_SEQ_RE.findall(info.text))
                       if not any(w[:5] == q[:5] for q in info.qualifiers)] if info.qtype in (PERSON, ENTITY) else []
            about = [s for s in sents[:SOFT_TOP] if (not named or s.cands)
                     and self._mentions(s.text, info.focus) and self._qualified(s.text, info.focus, info.qualifiers)
                     and _names_all(s.context or s.text, subject)]
            if not about:
                return Draft(abstained=True, notes=[f"nothing in the evidence about the {info.focus} asked for"])
            if about[0] is not best:
                best = about[0]
                sents = about + [s for s in sents if s not in about]
        self._last_best = best  # for diagnostics
        confidence = 0.5 * best.dense + 0.5 * best.coverage
        if best.dense < self.t.min_dense or confidence < self.t.min_confidence:
            missing = f"; not found: {', '.join(best.missing)}" if best.missing else ""
            return Draft(abstained=True, notes=[f"weak evidence (similarity {best.dense:.2f}, "
                                                f"coverage {best.coverage:.2f}){missing}"])

        speaker = _proper_words(PROPER_RE.findall(" " + attribution(question, (1,))))
        around = " ".join(p.text for p in passages if p.source == best.source and p.start <= best.start < p.end)
        if not _names_all(best.window + " " + around, speaker) and not PRONOUN_SAID.search(best.text):
            # "What did Colombia's president say?": the answer must be near a mention of Colombia
            return Draft(abstained=True, notes=[f"the evidence does not quote {attribution(question, (1,))}"])
        conflict = self._conflict(info, best, sents)
        if conflict:
            return conflict
        composed = self._month_and_year(question, info, best, sents, qterms)
        if composed:
            return composed
        before = self._previous(best, sents)
        if WHY_RE.search(question) and CONSEQUENCE_RE.match(best.text) and before:
            # "Why ...?" answered by "Accordingly, ...": the reason is the sentence before it
            return Draft(abstained=False, parts=[before, best], template="{0} {1}")
        short = best.cands[0].text if best.cands else None
        parts = [best]
        # Corroborate from another article when it says the same thing briefly.
        for s in sents[1:6]:
            if (s.source != best.source and s.score >= best.score - 0.1 and short
                    and fold(short) in fold(s.text) and _words(best.text) + _words(s.text) <= MAX_WORDS):
                parts.append(s)
                break
        return Draft(abstained=False, short_answer=short, parts=parts,
                     template=" ".join(f"{{{i}}}" for i in range(len(parts))))

    def _month_and_year(self, question: str, info: QuestionInfo, best: Sentence, sents: list[Sentence],
                        qterms) -> Draft | None:
        """"In what month and year ...?" when the best sentence gives only the month ("in May")
        and another confident sentence about the same event gives only the year ("in 2018"):
        answer with both, citing both."""
        if info.qtype != DATE or not re.search(r"\bmonth and (?:the )?year\b", question, re.IGNORECASE):
            return None
        month_of = lambda c: re.fullmatch(rf"(?:in\s+)?({MONTH_RE.pattern})", c.text)  # noqa: E731
        year_of = lambda c: re.fullmatch(r"(?:in\s+)?((?:1[89]|20)\d\d)", c.text)  # noqa: E731
        when = " ".join(c.text for c in best.cands)
        if bool(MONTH_RE.search(when)) == bool(YEAR_RE.search(when)):
            return None  # both given already, or neither
        need = year_of if MONTH_RE.search(when) else month_of  # the half the best sentence lacks
        have = [c for c in best.cands if (month_of if need is year_of else year_of)(c)]
        if not have:
            return None
        named = {fold(w) for w in re.findall(r"(?<=\s)[A-ZÁÉÍÓÚÑ][\w-]*", question)}
        event = {stem for stem, word, _ in qterms if word not in named}  # "reelect", not "Maduro"
        for s in sents[1:]:
            # the other sentence itself (not its neighbours) must speak of the same event and subject
            if not event <= set(terms(s.text)) or self._coverage(qterms, s.context or s.text)[0] < 0.6:
                continue
            found = [c for c in s.cands if need(c)]
            if found and len(found) == len(s.cands):
                pieces = {"month": None, "year": None}
                for c, kind in ((have[0], "year" if need is month_of else "month"),
                                (found[0], "year" if need is year_of else "month")):
                    pieces[kind] = (month_of(c) or year_of(c)).group(1)
                first, other = dataclasses.replace(best, cands=have), dataclasses.replace(s, cands=found)
                return Draft(abstained=False, short_answer=f"{pieces['month']} {pieces['year']}",
                             parts=[first, other], template="{0} {1}",
                             short_parts=[pieces["month"], pieces["year"]])
        return None

    def _speaker(self, s: Sentence, sents: list[Sentence], proper: set[str]) -> tuple[Sentence, str] | None:
        """For a sentence attributed to "he"/"she": the sentence just before it in the same
        article and the person it names (skipping bodies, abbreviations and capitalised words
        that merely start a sentence: ``proper`` holds the words capitalised within sentences)."""
        if not ATTRIBUTION_RE.search(s.text) or candidates(s.text, PERSON):
            return None  # no "he said", or the sentence names people itself
        prev = self._previous(s, sents)
        if prev is None:
            return None
        for c in candidates(prev.text, PERSON):
            words = c.text.split()
            if words[-1].lower() in BODY_WORDS or re.fullmatch(r"[A-Z.]+", words[-1]):
                continue
            if len(words) == 1 and c.start == 0 and words[0] not in proper:
                continue  # "Hours later, ...": a capital only because it starts the sentence
            return prev, c.text
        return None

    @staticmethod
    def _previous(s: Sentence, sents: list[Sentence]) -> Sentence | None:
        """The sentence just before ``s`` in the same article, if it was retrieved."""
        return next((x for x in sents if x.source == s.source and x.end <= s.start and s.start - x.end <= 3), None)

    def _mentions(self, text: str, word: str) -> bool:
        """The sentence names ``word`` (same stem) or a close synonym of it."""
        stem = terms(word)
        if stem and stem[0] in set(terms(text)):
            return True
        words = sorted({w for w in words_of(text) if w not in QUERY_STOPWORDS and len(w) > 2})
        return self.words.credit(word, words) >= 0.5

    def _unmentioned_name(self, question: str, passages: Sequence[Passage], described: Sequence[str] = ()) -> str | None:
        """A proper word of the question (capitalised, not first) that no retrieved passage
        mentions, even as another form of it (China for Chinese, Spain for Spanish): the
        articles cannot say what the Chinese government thought if none of them names China."""
        # "According to the Chinese outlet's report": who published it need not be in the text
        source = set(_proper_words(PROPER_RE.findall(" " + attribution(question, (0,)))))
        source |= set(_proper_words(described))  # "which Middle Eastern country": the answer is named instead
        proper = [w for w in _proper_words(PROPER_RE.findall(question)) if w not in source]
        if not proper:
            return None
        text = " ".join(p.title + " " + p.text for p in passages)
        have = {w for w in words_of(text) if len(w) >= 4}
        prefixes = {w[:4] for w in have}
        capital = sorted({fold(w).lower() for w in PROPER_RE.findall(text)} & have) or sorted(have)
        for w in proper:
            if w[:4] not in prefixes and self.words.credit(w, capital) < NAME_FORM_CREDIT:
                return w
        return None

    def _qualified(self, text: str, role: str, qualifiers: tuple[str, ...]) -> bool:
        """Each qualifier, or a word sharing its first five letters (Brazil for Brazilian), narrows
        the role in ``text``: up to QUALIFIER_SPAN content words before it ("Mexico's new leftist
        president") or right after it ("the president of Brazil"). The role may be named by a synonym."""
        if not qualifiers:
            return True
        words = [w for w in words_of(text) if len(w) > 1 and w not in QUERY_STOPWORDS]
        stem = terms(role)[:1]
        at_role = [i for i, w in enumerate(words) if terms(w)[:1] == stem or (
            len(w) > 2 and self.words.credit(role, [w]) >= 0.5)]

        def narrows(q: str) -> bool:
            at_q = [j for j, w in enumerate(words) if len(w) >= 4 and w[:5] == q[:5]]
            return any(0 < i - j <= QUALIFIER_SPAN or j - i == 1 for j in at_q for i in at_role)

        return all(narrows(q) for q in qualifiers)

    def _score(self, s: Sentence, qterms, own, info: QuestionInfo, soft: bool) -> None:
        """``qterms`` are matched in the sentence's window, ``own`` (without the speaker) in the sentence."""
        sent_cov, _ = self._coverage(own, s.context or s.text, soft)
        s.coverage, s.missing = self._coverage(qterms, s.window, soft)
        type_ok = 1.0 if (info.qtype not in REQUIRED or s.cands) else 0.0
        s.score = 0.45 * s.dense + W_SENTENCE * sent_cov + (0.5 - W_SENTENCE) * s.coverage + 0.1 * type_ok + 0.05 / (1 + s.rank)

    def _counts_focus(self, sentence: str, c: Candidate, focus: str, before: bool = False) -> bool:
        """Does the number in ``c`` count the thing asked about (the next few words name it)? With
        ``before``, a role just ahead of a name counts too: "Mexico's new president Andres ..."."""
        following = words_of(sentence[c.start:c.end + 40])[:6]
        if before:
            following = words_of(sentence[max(0, c.start - 40):c.start])[-4:] + following
        words = [w for w in following if w not in QUERY_STOPWORDS and not w.isdigit()]
        if set(terms(focus)) & set(terms(" ".join(words))):
            return True
        return self.words.credit(focus, words) >= 0.5

    @staticmethod
    def _age_of_asked(sentence: str, c: Candidate, qstems: set[str]) -> bool:
        """An age belongs to the nearest name: it must be the name the question asks about."""
        near = [(min(abs(m.start() - c.end), abs(m.end() - c.start)), m.group(0))
                for m in re.finditer(r"[A-ZÁÉÍÓÚÑ][\w’'-]+(?:\s+[A-ZÁÉÍÓÚÑ][\w’'-]+)*", sentence)]
        near = [(d, n) for d, n in near if d <= 60 and set(terms(n)) - {"the"}]
        if not near:
            return True  # "the 35-year-old" with no name nearby: let coverage decide
        return bool(set(terms(min(near)[1])) & qstems)

    def _maybe_person(self, name: str) -> bool:
        """False for a name far nearer in meaning to a country or an organisation than to a person
        ("United States", "USA"); people named after places ("Israel Larez") stay within the margin."""
        import numpy as np

        v = np.asarray(self.words._vectors(["person", "country", "organization", name]))
        sims = v[:3] @ v[3]
        return float(max(sims[1], sims[2]) - sims[0]) <= PERSON_MARGIN

    def _fits_kind(self, name: str, kind: str) -> bool:
        """False for a name far nearer in meaning to a country than to the city (or town, capital)
        asked for, or far nearer to a city than to the country (or nation) asked for, or nearer to
        a person than to either ("Trump" is no city)."""
        import numpy as np

        other = "city" if kind in ("country", "nation") else "country"
        v = np.asarray(self.words._vectors([kind, other, "person", name]))
        sims = v[:3] @ v[3]
        return float(sims[1] - sims[0]) <= KIND_MARGIN and sims[0] >= sims[2]  # and not nearer to a person

    def _fit(self, info: QuestionInfo, names: list[str]):
        """How near each name is in meaning to the place the question describes ("Middle Eastern
        country"): cosine similarity of their embeddings."""
        import numpy as np

        if not names:
            return np.zeros(0)
        described = PLACE_KIND_RE.search(info.text) if info.described else None
        kind = " ".join(described.group(0).split()[1:]) if described else info.kind
        vecs = np.asarray(self.words._vectors([kind] + names))
        return vecs[1:] @ vecs[0]

    def _rank_candidates(self, sentence: str, info: QuestionInfo, qstems: set[str],
                         proper: set[str]) -> list[Candidate]:
        qtype = info.qtype
        cands = [c for c in candidates(sentence, qtype)
                 if not (set(terms(c.text)) and set(terms(c.text)) <= qstems)]
        if qtype in (PERSON, PLACE, ENTITY):
            # "Meanwhile, all eyes were on ...": one capitalised word opening the sentence, and
            # capitalised nowhere else in the passages, is an ordinary word
            cands = [c for c in cands if c.start > 0 or " " in c.text or c.text in proper]
        if qtype == PERSON:
            # "Which official said Maduro had no authority?": not Nicolas Maduro, whom the question names
            cands = [c for c in cands if not set(terms(c.text.split()[-1])) & qstems and self._maybe_person(c.text)]
        if info.grain:
            # "On what day and month did he die?": "in 2013" is no answer
            cands = [c for c in cands if has_grain(c.text, info.grain)]
        if info.kind:
            # "In which city ...": not a country ("Venezuela's"), and "Which country ...": not a city
            cands = [c for c in cands if self._fits_kind(c.text, info.kind)]
        if info.focus:
            cands = [c for c in cands if self._counts_focus(sentence, c, info.focus, before=qtype != NUMBER)]
        if qtype == AGE and re.search(r"\b(?:old|age of)\s+(?:is|was|were|are)?\s*[A-ZÁÉÍÓÚÑ]", info.text):
            # "How old is Maduro?" names whose age is asked: the age must be next to that name
            cands = [c for c in cands if self._age_of_asked(sentence, c, qstems)]
        if not cands:
            return []
        if info.described or info.kind:
            # "Which Middle Eastern country": of "the U.S., Spain and Lebanon", the place nearest in
            # meaning to the description first; "which city": of "Venezuelans ... Madrid", Madrid
            fits = self._fit(info, [c.text for c in cands])
            return [c for _, c in sorted(zip(-fits, cands), key=lambda x: x[0])]
        low = fold(sentence)
        anchors = [m.start() for m in TOKEN_RE.finditer(low) if terms(m.group(0))[:1] and terms(m.group(0))[0] in qstems]

        def key(c: Candidate):
            dist = min((abs(a - c.start) for a in anchors), default=len(sentence))
            unit = terms(c.text.split()[-1]) if c.text.split() else []
            unit_bonus = 1 if unit and unit[0] in qstems else 0
            # "Tusk said that “unlike Maduro” ...": who is asked about speaks outside the quotes
            quoted = qtype == PERSON and _inside_quotes(sentence, c.start)
            return (-unit_bonus, quoted, dist)

        return sorted(cands, key=key)

    def _conflict(self, info: QuestionInfo, best: Sentence, sents: list[Sentence]) -> Draft | None:
        if info.qtype != NUMBER or not best.cands or best.coverage < 0.6:
            return None
        picked = {_value(best.cands[0].text): best}
        # Another article's figure counts as a rival report when it counts the same thing
        # (the focus noun, checked when candidates are made) and is itself confident evidence.
        need = 0.5 if info.focus else 0.8
        for s in sents[1:8]:
            if (not s.cands or s.source == best.source or s.coverage < need
                    or 0.5 * s.dense + 0.5 * s.coverage < self.t.min_confidence):
                continue
            v = _value(s.cands[0].text)
            if v and v not in picked and all(_value(c.text) != v for c in best.cands):
                picked[v] = s
        if len(picked) < 2:
            return None
        parts = list(picked.values())[:3]
        short = " vs ".join(p.cands[0].text for p in parts)
        template = "The articles disagree: " + " ".join(f"{{{i}}}" for i in range(len(parts)))
        return Draft(abstained=False, short_answer=short, parts=parts, template=template,
                     notes=["sources disagree"])


def _proper_words(words) -> list[str]:
    """Folded capitalised words worth checking: 4+ letters, not a stopword or question word, and
    not a month or weekday ("the January protests": a date, which articles write many ways), not a
    compass or region word ("Middle Eastern": a description of where, not a name)."""
    out = [fold(w).lower() for w in words]
    return [w for w in out if len(w) >= 4 and w not in QUERY_STOPWORDS and w not in QUESTION_WORDS
            and w not in CALENDAR_WORDS and w not in REGION_WORDS]


def _inside_quotes(text: str, at: int) -> bool:
    """Is offset ``at`` of ``text`` inside a quotation (“...” or "...")?"""
    before = text[:at]
    return before.count("“") > before.count("”") or before.count('"') % 2 == 1


def _names_all(text: str, words: list[str]) -> bool:
    """Each of ``words`` (or a word sharing its first five letters) is in ``text``."""
    have = {w[:5] for w in words_of(text)}
    return all(w[:5] in have for w in words)


def _words(text: str) -> int:
    return len(text.split())


_NUMWORDS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve "
                                        "thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty".split())}


def _value(text: str) -> str:
    digits = re.findall(r"\d[\d,.]*", text)
    if digits:
        return digits[0].replace(",", "")
    for w in TOKEN_RE.findall(text.lower()):
        if w in _NUMWORDS:
            return str(_NUMWORDS[w])
    return fold(text)


# ------------------------------------------------------------------ rendering
def trim_to_words(s: Sentence, keep: Candidate | None, limit: int) -> tuple[int, int]:
    """Offsets (relative to the sentence) of a clause window of at most ``limit`` words that
    keeps ``keep``. Cuts only at clause punctuation, so the quote stays verbatim."""
    text = s.text
    if _words(text) <= limit:
        return 0, len(text)
    bounds = [0] + [m.end() for m in re.finditer(r"[,;:—–]\s+", text)] + [len(text)]
    clauses = list(zip(bounds[:-1], bounds[1:]))
    centre = 0
    if keep is not None:
        centre = next((i for i, (a, b) in enumerate(clauses) if a <= keep.start < b), 0)
    lo = hi = centre
    while True:
        grown = False
        for nlo, nhi in ((lo - 1, hi), (lo, hi + 1)):
            if 0 <= nlo and nhi < len(clauses) and _words(text[clauses[nlo][0]:clauses[nhi][1]]) <= limit:
                lo, hi, grown = nlo, nhi, True
                break
        if not grown:
            break
    a, b = clauses[lo][0], clauses[hi][1]
    seg = text[a:b]
    a += len(seg) - len(seg.lstrip())
    b -= len(seg) - len(seg.rstrip(" ,;:—–"))
    return a, b


def render(question: str, standalone: str, draft: Draft, passages: list[Passage], verifier,
           backend: str) -> Answer:
    """Turn a draft into an Answer whose every citation is verified against the files."""
    if draft.abstained:
        return abstention(question, standalone, passages, backend, draft.notes)
    per_part = max(12, MAX_WORDS // max(1, len(draft.parts)) - 4)
    citations, pieces = [], []
    for part in draft.parts:
        keep = part.cands[0] if part.cands else None
        # An LLM's claim was checked against its whole sentence, so that is what it cites.
        a, b = (0, len(part.text)) if draft.ids_only else trim_to_words(part, keep, per_part)
        cit = Citation(id=len(citations) + 1, source=part.source, title=part.title,
                       start=part.start + a, end=part.start + b, quote=part.text[a:b])
        if not verifier.check(cit):
            continue  # a quote that does not match the file is never shown
        citations.append(cit)
        lead = "…" if a > 0 else ""
        tail = "…" if b < len(part.text) else ""
        pieces.append(f"{lead}{neutralise_markers(cit.quote)}{tail} [{cit.id}]")
    if not citations or (draft.ids_only and len(citations) < len(draft.parts)):
        return abstention(question, standalone, passages, backend, draft.notes + ["no quote verified"])
    if draft.ids_only:
        pieces = [str(c.id) for c in citations]
    if len(pieces) < len(draft.parts) and "sources disagree" in draft.notes:
        draft.template = " ".join(f"{{{i}}}" for i in range(len(pieces)))
        draft.notes = [n for n in draft.notes if n != "sources disagree"]
    text = draft.template.format(*pieces) if len(pieces) == len(draft.parts) else " ".join(pieces)
    short = draft.short_answer
    pieces_needed = draft.short_parts or short.split(" vs ") if short else []
    if short and not all(any(fold(s) in fold(c.quote) for c in citations) for s in pieces_needed):
        short = None  # a short answer must be supported by a shown quote
    return Answer(question=question, standalone_question=standalone, answer=text, short_answer=short,
                  abstained=False, citations=citations, passages=passages, backend=backend, notes=draft.notes)


def abstention(question: str, standalone: str, passages: list[Passage], backend: str,
               notes: Sequence[str] = ()) -> Answer:
    shown = " ".join((question or standalone).split())
    if len(shown) > 200:
        shown = shown[:200].rsplit(" ", 1)[0] + " …"
    text = (f"The articles don't say. None of them answers “{shown}”"
            + (" The closest passages are listed below." if passages else ""))
    return Answer(question=question, standalone_question=standalone, answer=text, short_answer=None,
                  abstained=True, citations=[], passages=passages, backend=backend, notes=list(notes))
