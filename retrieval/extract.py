"""Question analysis and answer candidates: what kind of answer a question wants, and
where such answers sit in a sentence. General English patterns; nothing here knows
about any particular article."""
from __future__ import annotations

import re
from dataclasses import dataclass

from retrieval.rewrite import LEADING_FUNCTION_WORDS, NAME_RE

NUMBER, DURATION, AGE, DATE, PERSON, PLACE, ENTITY, OTHER = (
    "number", "duration", "age", "date", "person", "place", "entity", "other")
TYPED = {NUMBER, DURATION, AGE, DATE, PERSON, PLACE, ENTITY}

# Nouns for people: "the name of Maduro's *wife*" asks for a person, "the name of the currency" does not.
PERSON_NOUNS = ("person|people|man|woman|men|women|boy|girl|child|wife|husband|son|daughter|mother|father|brother|"
                "sister|partner|leader|president|vice-president|minister|secretary|official|diplomat|ambassador|"
                "envoy|spokesman|spokeswoman|spokesperson|governor|mayor|senator|lawmaker|legislator|deputy|"
                "general|commander|chief|head|director|chairman|chairwoman|founder|owner|manager|student|teacher|"
                "professor|journalist|reporter|photographer|author|writer|editor|activist|lawyer|judge|doctor|"
                "priest|king|queen|prince|princess|dictator|candidate|politician|adviser|advisor|aide|analyst|"
                "expert|economist|soldier|officer|victim|protester|demonstrator|worker|actor|singer|player|coach")
_Q_PATTERNS: list[tuple[str, str]] = [
    (r"\bhow old\b|\bwhat age\b|\bage of\b|\bhow many years old\b", AGE),
    (r"\bhow long\b|\bhow many (hours|days|weeks|months|years|minutes)\b|\bwithin how\b|\bwhat deadline\b", DURATION),
    (r"\bhow many\b|\bhow much\b|\bwhat number\b|\bwhat percentage\b|\bhow large\b|\bdeath toll\b"
     r"|\bwhat (?:was|is|were|are) (?:the |its |their )?[\w ]{0,30}\b(?:rate|percentage|share|number|total|toll|amount|population|figure|count|size)\b", NUMBER),
    (r"^\s*when\b|\bwhat (day|date|year|month|time)\b|\bwhich (day|date|year|month)\b|\bon what day\b|\bin what year\b|^\s*(?:and|so|but)?\s*when\b", DATE),
    (r"^\s*where\b|(?:\b(?:what|which)|^\W*name (?:a|an|one|the)|\bname of(?: the| a| an)?) (?:[\w-]+ ){0,2}(city|country|capital|place|nation|town|region|state)\b(?!['’])", PLACE),
    (r"^\s*(who|whom|whose)\b|\bwhich (?:[\w-]+ ){0,2}(person|official|leader|minister|president|spokesman|spokeswoman|man|woman)\b|\bwhat (person|official|leader|minister)\b|^\W*(?:and|so|but)?\s*who\b"
     rf"|\bname of (?:[\w'’.-]+ ){{0,4}}?(?:{PERSON_NOUNS})\b|\bname of [^,?]*,? who\b", PERSON),
    (r"\bname of\b", ENTITY),  # "the name of Venezuela's currency": a name, not a person's
    (r"\b(which|what) (?:[\w-]+ ){0,2}(party|company|firm|newspaper|agency|network|university|countries|nations|governments|organizations|organisations|groups|leaders|allies|outlets|newspapers|agencies)\b", ENTITY),
]

NUMBER_WORDS = ("one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
                "sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|"
                "hundred|a dozen|dozens|dozen|hundreds|thousands|millions|tens of thousands|hundreds of thousands")
TIME_UNITS = r"(?:hours?|days?|weeks?|months?|years?|minutes?|decades?)"
NUM = rf"(?:\d[\d,]*(?:\.\d+)?%?|{NUMBER_WORDS})(?:\s+(?:million|billion|thousand|hundred|percent|per cent))?"
RE_DURATION = re.compile(rf"\b{NUM}[\s-]+{TIME_UNITS}\b", re.IGNORECASE)
RE_NUMBER = re.compile(rf"(?:\b(?:more than|over|at least|nearly|about|some|almost|up to)\s+)?\b{NUM}\b(?:\s+(?:of\s+)?[a-z]+)?",
                       re.IGNORECASE)
AGE_APPOSITION = re.compile(r"[A-ZÁÉÍÓÚÑ][\w’'.-]*, $")  # "Guaidó, " before "35,"
RE_AGE = re.compile(r"\b(\d{1,3})-year-old\b|(?<=, )(\d{1,3})(?=,)|\baged (\d{1,3})\b|\bage of (\d{1,3})\b")
MONTHS = ("January|February|March|April|May|June|July|August|September|October|November|December|"
          "Jan\\.|Feb\\.|Mar\\.|Apr\\.|Jun\\.|Jul\\.|Aug\\.|Sep\\.|Sept\\.|Oct\\.|Nov\\.|Dec\\.")
WEEKDAYS = "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
RE_DATE = re.compile(
    rf"\b(?:(?:{MONTHS})\s+\d{{1,2}}(?:,\s*\d{{4}})?|\d{{1,2}}\s+(?:{MONTHS})(?:\s+\d{{4}})?|(?:in\s+)?(?:{MONTHS})(?:\s+\d{{4}})?"
    rf"|(?:on\s+)?(?:{WEEKDAYS})|(?:in\s+)?(?:1[89]|20)\d\d|(?:{NUMBER_WORDS}|\d+)\s+(?:days?|weeks?|months?|years?)\s+ago"
    rf"|(?:earlier|later)\s+(?:this|that|in the)\s+(?:day|week|month|year))\b")
NOT_NAMES = {"January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
             "November", "December", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}


# Nouns that narrow what is asked ("which political party", "the name of the Brazilian president"):
# an answer must be about that role or body, not just about the same people. Generic type
# words (country, person, group) are not here: the answer itself fills them.
ROLES = ("president|minister|secretary|spokesman|spokeswoman|ambassador|governor|mayor|senator|general|"
         "commander|chief|party|company|firm|newspaper|network|agency|ministry|university|school|team|union|"
         "profession|occupation|job|career|salary|religion")
ATTRIBUTES = {"profession", "occupation", "job", "career", "salary", "religion"}
# "How many of the people killed were members of the security forces?": a count of that subset
PARTITIVE_RE = re.compile(r"\bhow many of (?:the|these|those|them)\b.*?\b(?:were|was|are|is|have been|had been)\s+"
                          r"([^?]+)")
# "What kind of meeting did ...": the noun is the answer's head (one word before the verb; in
# "what kind of hired security personnel ..." the head is not known, so there is no focus)
LIVING_RE = re.compile(r"\bdo(?:es)?\b.*\bfor a living\b|\bwhat (?:is|was) (?:his|her|their) (?:job|work|trade)\b")
COUNTED_RE = re.compile(r"\bhow many\s+(?:[a-z-]+\s+){1,3}?(?:were|was|have been|had been|are|is|got)\s+"
                        r"([a-z]+(?:ed|en))\b")  # "How many people were injured?"
KIND_RE = re.compile(r"\b(?:what|which)\s+(?:kind|kinds|type|types|sort|sorts|form|forms)\s+of\s+([a-z][\w-]*)\s+"
                     r"(?:did|does|do|was|were|is|are|has|have|had|will|would|could|can|should|might)\b")
ROLE_RE = re.compile(rf"\b(?:which|what|whose|name of(?: the)?)\s+(?:[\w'’-]+\s+){{0,3}}?({ROLES})\b")


@dataclass(frozen=True)
class QuestionInfo:
    text: str
    qtype: str
    focus: str | None = None  # what is counted: "people" in "how many people ..."
    qualifiers: tuple[str, ...] = ()  # proper words narrowing the focus: "Brazilian" in "the Brazilian president"
    subset: str = ""  # "How many of the people killed were *members of the security forces*?"
    counted: str = ""  # what happened to what is counted: "How many people were *injured*?"
    described: tuple[str, ...] = ()  # what the answer place is: "Middle Eastern" in "which Middle Eastern country"
    kind: str = ""  # the kind of place asked for: "city" in "In which city ...?", "country" in "Name a country ..."
    grain: str = ""  # the part of a date asked for: "year", "month" or "day" ("On what day and month ...?")


# "When he told them to leave, what did Maduro say ...?": the question is the part after the comma
LEADING_CLAUSE_RE = re.compile(r"^\s*(?:when|if|after|before|while|once|as)\b[^,?]*,\s*"
                               r"(?=(?:what|who|whom|whose|which|where|when|how|why)\b)")


def _unname_roles(question: str) -> str:
    """The question with role words that end a capitalised name masked: "Which European Union
    official ..." narrows to no role (not to a union), nor "the Socialist Party leader" to a party."""
    return re.sub(rf"\b([A-ZÁÉÍÓÚÑ][\w’'.-]*) ({ROLES.title()})\b",
                  lambda m: m.group(1) + " " + "_" * len(m.group(2)), question)


def classify(question: str) -> QuestionInfo:
    q = LEADING_CLAUSE_RE.sub("", question.lower(), count=1)
    for pattern, qtype in _Q_PATTERNS:
        if re.search(pattern, q):
            focus = _role(LEADING_CLAUSE_RE.sub("", _unname_roles(question).lower(), count=1), qtype)
            if qtype == NUMBER:
                m = re.search(r"\bhow (?:many|much)\s+(?:of\s+the\s+)?([a-z][\w-]*)", q)
                if m and m.group(1) not in {"of", "did", "do", "does", "were", "was", "is", "are", "have", "has"}:
                    focus = m.group(1)
            part = PARTITIVE_RE.search(q) if qtype == NUMBER else None
            return QuestionInfo(question, qtype, focus, _qualifiers(question) if focus and qtype in (PERSON, ENTITY)
                                else (), part.group(1).strip() if part else "",
                                next((m.group(1) for m in [COUNTED_RE.search(q)] if m and not part), ""),
                                _described(question) if qtype == PLACE else (),
                                _place_kind(q) if qtype == PLACE else "", _grain(q) if qtype == DATE else "")
    kind = KIND_RE.search(q)  # "What kind of meeting ...": the answer is a meeting
    living = "profession" if LIVING_RE.search(q) else None  # "What does she do for a living?"
    return QuestionInfo(question, OTHER, _role(q, OTHER) or living or (kind.group(1) if kind else None))


ATTRIBUTION_RES = (re.compile(r"^\s*according to ([^,?]+),", re.IGNORECASE),
                   re.compile(r"\bwhat did (.+?) (?:say|tell|claim|warn|announce|stress)\b", re.IGNORECASE))


def attribution(question: str, which: tuple[int, ...] = (0, 1)) -> str:
    """Who the question says is speaking ("According to *Pompeo*, ...", "What did *the official*
    say ..."): often named in a sentence next to the one that answers. ``which`` picks the
    forms: 0 the source ("according to"), 1 the speaker ("what did X say")."""
    return " ".join(m.group(1) for i in which for m in [ATTRIBUTION_RES[i].search(question)] if m)


def _qualifiers(question: str) -> tuple[str, ...]:
    """Capitalised words between the question word and the role: "Which *Brazilian* president",
    "the name of *Venezuela's* foreign minister" (folded, possessive dropped, 4+ letters)."""
    m = ROLE_RE.search(question.lower())
    if not m:
        return ()
    span = question[m.start():m.start(1)]
    words = re.findall(r"(?<!^)(?<=\s)[A-ZÁÉÍÓÚÑ][\w’'-]*", span)
    out = [re.sub(r"['’]s$", "", w.lower()) for w in words]
    return tuple(w for w in out if len(w) >= 4 and w.isalpha())


PLACE_KIND_RE = re.compile(r"\b(?:which|what)\s+((?:[A-ZÁÉÍÓÚÑ][\w’'-]*\s+){1,3})"
                           r"(?:city|cities|country|countries|capital|nation|nations|town|region|state)\b",
                           re.IGNORECASE)


PLACE_KIND_WORD_RE = re.compile(r"(?:\b(?:what|which)|^\W*name (?:a|an|one|the)|\bname of(?: the| a| an)?)\s+"
                                r"(?:[\w'’-]+\s+){0,2}?(city|cities|town|towns|capital|capitals|country|countries"
                                r"|nation|nations)\b")


def _place_kind(q: str) -> str:
    """"city" for "In which city ...", "country" for "Name a country ...": singular, lower case."""
    m = PLACE_KIND_WORD_RE.search(q)
    if not m:
        return ""
    word = m.group(1)
    return {"cities": "city", "countries": "country", "towns": "town", "capitals": "capital",
            "nations": "nation"}.get(word, word)


GRAIN_RE = re.compile(r"\b(?:what|which)\s+(day|date|month|year)\b(?:\s+and\s+(?:the\s+)?(day|month|year)\b)?")
WEEKDAY_RE = re.compile(rf"\b(?:{WEEKDAYS})\b")
MONTH_NAME_RE = re.compile(rf"(?:{MONTHS})")
DAY_OF_MONTH_RE = re.compile(rf"(?:{MONTHS})\s+\d{{1,2}}\b|\b\d{{1,2}}\s+(?:{MONTHS})")


def _grain(q: str) -> str:
    """What a date question needs: "year" ("In what year ..."), "month" ("Which month ..."), "day"
    ("On what date ...", "which day"), "day and month"; "" for "when" and for "month and year",
    which two sentences may answer between them."""
    m = GRAIN_RE.search(q)
    if not m:
        return ""
    parts = {m.group(1), m.group(2)} - {None}
    if parts == {"month", "year"}:
        return ""
    if "month" in parts and parts & {"day", "date"}:
        return "day and month"
    return "day" if parts & {"day", "date"} else parts.pop()


def has_grain(text: str, grain: str) -> bool:
    """Does a date span give the part asked for? "in 2013" gives a year but no day or month."""
    if grain == "year":
        return bool(re.search(r"\b(?:1[89]|20)\d\d\b", text))
    if grain == "month":
        return bool(MONTH_NAME_RE.search(text))
    if grain == "day":
        return bool(WEEKDAY_RE.search(text) or DAY_OF_MONTH_RE.search(text))
    if grain == "day and month":
        return bool(DAY_OF_MONTH_RE.search(text))
    return True


def _described(question: str) -> tuple[str, ...]:
    """Capitalised words that say what the answer place is rather than name it: "Which *Middle
    Eastern* country", "what *European* capital". The article names the place ("Lebanon")."""
    m = PLACE_KIND_RE.search(question)
    if not m:
        return ()
    return tuple(w for w in m.group(1).split() if w[:1].isupper())


def _role(q: str, qtype: str) -> str | None:
    """The role or body a PERSON/ENTITY question narrows to; for other questions only the
    attributes that only a statement about them can answer (a profession, a salary)."""
    m = ROLE_RE.search(q)
    if not m or qtype not in (PERSON, ENTITY, OTHER):
        return None
    if qtype == OTHER and m.group(1) not in ATTRIBUTES:
        return None
    return m.group(1)


@dataclass(frozen=True)
class Candidate:
    text: str
    start: int  # offsets within the sentence
    end: int


def candidates(sentence: str, qtype: str) -> list[Candidate]:
    """Spans of ``sentence`` that could answer a question of ``qtype``."""
    if qtype == AGE:
        out = []
        for m in RE_AGE.finditer(sentence):
            g = next(i for i in range(1, 5) if m.group(i))
            out.append(Candidate(m.group(g), m.start(g), m.end(g)))
        return out
    if qtype == DURATION:
        return [Candidate(m.group(0), m.start(), m.end()) for m in RE_DURATION.finditer(sentence)]
    if qtype == NUMBER:
        out = []
        for m in RE_NUMBER.finditer(sentence):
            text = m.group(0)
            # Years and ages are not counts: "in 2019", "a 35-year-old", "Guaidó, 35, the leader".
            if re.fullmatch(r"(?:1[89]|20)\d\d", text.strip()) or re.search(r"-year-old", sentence[m.end():m.end() + 10]):
                continue
            if AGE_APPOSITION.search(sentence[:m.start()]) and re.fullmatch(r"\d{1,3}", text.strip()) \
                    and sentence[m.end():m.end() + 1] == ",":
                continue
            out.append(Candidate(text, m.start(), m.end()))
        return out
    if qtype == DATE:
        return [Candidate(m.group(0), m.start(), m.end()) for m in RE_DATE.finditer(sentence)]
    if qtype in (PERSON, PLACE, ENTITY):
        out = []
        for m in NAME_RE.finditer(sentence):
            text, start = m.group(0), m.start()
            words = text.split()
            if start == 0 and len(words) > 2 and words[0].endswith("ly") and words[1] == "the":
                # "Accordingly the United States": an adverb, capitalised only because it starts the sentence
                start = sentence.index(words[2], start)
                words = words[2:]
            while words and (words[0].strip(".,") in LEADING_FUNCTION_WORDS or words[0] in NOT_NAMES):
                start = sentence.index(words[1], start) if len(words) > 1 else start
                words = words[1:]
            if not words:
                continue
            name = " ".join(words).rstrip(".,;:’'")
            if name in NOT_NAMES or len(name) < 2:
                continue
            out.append(Candidate(name, start, start + len(name)))
            if qtype == PLACE and " and " in name:
                # "Spain and Lebanon": a list of places, each a possible answer
                for part in re.finditer(r"(?:(?<=^)|(?<= and ))(.+?)(?= and |$)", name):
                    out.append(Candidate(part.group(1), start + part.start(1), start + part.end(1)))
        return out
    return []
