"""Synthetic news corpora for the scaling benchmark: varied, news-like articles, deterministic
for a seed, sized in the project's own chunks.

    python -m evals.synth --chunks 10000 --out /tmp/synth10k [--seed 0] [--questions q.jsonl]

How the text is made
--------------------
Every article has a *topic* (politics, economy, health, climate, ...) and a *cast*: four
people, three places, a country and two organisations, all generated (first names from a
list, surnames and place names from syllables, organisations from patterns such as
"Council for Water Rights of Velmora"). Its paragraphs mix two kinds of sentence:

1. **Markov sentences.** A word-level Markov chain (order 2, backing off to order 1 a
   quarter of the time, which is what makes new sentences rather than replays) is trained
   on the articles in ``corpus/``. Before training, names are replaced by slots by the
   length of the capitalised run (one word: a place or surname; two: a person; three or
   more: an organisation) and numbers by a number slot. Generated sentences fill those
   slots from the article's cast and with fresh numbers, so they read like the wire copy
   the bot was built for but name other people, places and figures.
2. **Template sentences.** About half of the sentences come from a small grammar of
   news sentences (who said what, how many were affected, when something was announced,
   what a survey found, ...) filled with the topic's vocabulary, the cast, numbers and
   dates. Each template also yields a question with a known answer, which the benchmark
   uses as "synthetic-text questions".

A sentence is never used twice in a corpus (a hash set rejects repeats and the generator
draws again), so no paragraph is a copy of another. The first line of each file is a
generated headline, as newsdesk's loader expects.

Sizing: after writing each article, the generator loads it with newsdesk's own loader and
chunker (``retrieval.loaders`` + ``retrieval.chunking.chunk_document``, ~700 characters
per chunk with a one-sentence overlap) and stops once the running chunk count reaches the
target, so ``--chunks 10000`` gives 10,000 chunks (give or take one article) as newsdesk
counts them, whatever the chunker does at the time.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------------------- vocabulary
FIRST_NAMES = """Ana Luis Maria Jose Carmen Pedro Sofia Diego Elena Pablo Amara Kwame Ngozi Tunde Fatima Omar Leila
Yusuf Aisha Karim Mei Wei Hiroshi Yuki Jin Soo-ah Arjun Priya Ravi Anjali Olga Dmitri Irina Sergei Katarzyna Piotr
Agnieszka Lars Ingrid Sven Astrid Hans Greta Pierre Claire Jacques Amelie Giulia Marco Chiara Luca Sean Siobhan
Grace Daniel Helen Michael Rachel David Laura James Emma Thomas Nadia Samir Rania Tariq Zeynep Emre Selin Baris
Thandiwe Sipho Lindiwe Kofi Abena Chidi Efua Mateo Valentina Santiago Camila Joaquin Lucia Andres Paula Tomas Ines
Noor Hassan Layla Mariam Bilal Ayesha Farid Sana Nikos Eleni Yannis Ioana Mihai Vesna Goran Tamar Levan Aroha Tane
Kai Leilani Malia Rosa Felipe Beatriz Rui Joana Henrik Maja Elif Anouk Bram Femke Ruth Miriam Ezra""".split()
SYLLABLES = ("ka ro mel dan vi tor sa len bru es no gal ri mon te lu fer an do zi bar cal ven mar ost tal pen "
             "ga ber sol mi ra del qui ash ul nor ves kel iro pa tam quin ser lo dru ha").split()
SURNAME_ENDS = "ez son ov ini ski a o er is escu ian enko ova ides ard al ano ero ić berg uti ema".split()
PLACE_ENDS = "ia burg port ville stan ora and ara ino esk mouth field aya ovo enne ida uca".split()
PLACE_PREFIXES = ["San ", "Port ", "New ", "Lake ", "Upper ", "Santa ", "East ", "North ", "", "", "", "", ""]
ORG_NOUNS = ["Council", "Institute", "Commission", "Agency", "Union", "Federation", "Bureau", "Alliance",
             "Authority", "Observatory", "League", "Foundation", "Board", "Centre", "Network", "Coalition"]
ORG_FIELDS = ["Water Rights", "Public Health", "Social Conflict", "Fair Elections", "Rural Development",
              "Energy Security", "Press Freedom", "Consumer Protection", "Urban Transport", "Labour Standards",
              "Ocean Research", "Digital Affairs", "Food Safety", "Human Rights", "Economic Studies",
              "Disaster Relief", "Financial Stability", "Higher Education", "Civil Aviation", "Forest Protection"]
ORG_ADJS = ["National", "Regional", "Independent", "United", "Central", "Federal", "Democratic", "International",
            "Popular", "Municipal", "Northern", "Southern", "Civic", "Royal"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

# topic -> vocabulary for the template grammar
TOPICS: dict[str, dict[str, list[str]]] = {
    "politics": dict(
        counted=["protesters", "lawmakers", "ballots", "polling stations", "detainees", "candidates", "voters"],
        event=["arrested", "counted", "registered", "detained", "released", "disqualified"],
        thing=["election law", "constitutional reform", "curfew", "coalition agreement", "state of emergency",
               "recall vote", "budget resolution", "amnesty bill"],
        role=["interior minister", "opposition leader", "party chairman", "speaker of parliament", "governor",
              "foreign minister", "spokesperson"],
        action=["suspend", "review", "challenge", "approve", "postpone", "reject"],
        group=["voters", "civil servants", "students", "opposition supporters", "local officials"],
        building=["parliament", "presidential palace", "electoral council", "supreme court"],
        quote=["We will not accept a result written in advance", "The people have spoken and we will listen",
               "This government has lost its mandate", "Nobody is above the constitution"]),
    "economy": dict(
        counted=["jobs", "factories", "shops", "contracts", "loans", "barrels of oil", "containers"],
        event=["lost", "closed", "cancelled", "approved", "exported", "created"],
        thing=["inflation target", "currency peg", "fuel subsidy", "minimum wage", "trade agreement",
               "bond issue", "import tariff", "pension reform"],
        role=["finance minister", "central bank governor", "chief economist", "trade negotiator",
              "chief executive", "union leader"],
        action=["raise", "cut", "freeze", "renegotiate", "scrap", "extend"],
        group=["small businesses", "exporters", "pensioners", "farmers", "factory workers", "savers"],
        building=["central bank", "stock exchange", "finance ministry", "port authority"],
        quote=["Prices cannot keep rising faster than wages", "The recovery is fragile but real",
               "Investors need rules that do not change every month", "We expect growth to return next year"]),
    "health": dict(
        counted=["patients", "cases", "hospital beds", "vaccine doses", "nurses", "clinics"],
        event=["treated", "reported", "vaccinated", "admitted", "discharged", "confirmed"],
        thing=["vaccination campaign", "hospital budget", "outbreak", "drug shortage", "screening programme",
               "emergency ward", "quarantine order"],
        role=["health minister", "chief medical officer", "hospital director", "epidemiologist",
              "head of nursing"],
        action=["expand", "fund", "restrict", "relaunch", "evaluate", "suspend"],
        group=["children", "elderly residents", "health workers", "rural families", "pregnant women"],
        building=["general hospital", "health ministry", "vaccination centre", "regional clinic"],
        quote=["The next two weeks will be decisive", "Our staff are exhausted but they keep coming",
               "Every dose we deliver saves lives", "We were not told about the shortage in time"]),
    "climate": dict(
        counted=["homes", "hectares", "residents", "wells", "roads", "villages"],
        event=["flooded", "evacuated", "burned", "destroyed", "cut off", "damaged"],
        thing=["flood barrier", "drought plan", "emissions target", "reforestation scheme", "heat warning",
               "water ration", "coastal defence"],
        role=["environment minister", "meteorologist", "mayor", "fire chief", "climate scientist",
              "civil protection director"],
        action=["strengthen", "delay", "finance", "abandon", "accelerate", "redesign"],
        group=["coastal residents", "farmers", "fishermen", "schoolchildren", "tourists"],
        building=["weather service", "town hall", "river authority", "emergency command centre"],
        quote=["The river rose faster than anyone expected", "We have never seen a summer like this",
               "Adaptation is no longer optional", "The warnings came too late for many families"]),
    "transport": dict(
        counted=["passengers", "flights", "trains", "buses", "kilometres of track", "lorries"],
        event=["cancelled", "delayed", "diverted", "grounded", "carried", "inspected"],
        thing=["rail strike", "airport expansion", "fare increase", "bridge repair", "metro line",
               "road toll", "safety inspection"],
        role=["transport minister", "airport director", "rail union leader", "city planner",
              "chief engineer"],
        action=["reopen", "privatise", "upgrade", "inspect", "reroute", "subsidise"],
        group=["commuters", "drivers", "travellers", "rail workers", "cyclists"],
        building=["central station", "international airport", "transport ministry", "harbour"],
        quote=["Commuters deserve a service that works", "Safety comes before the timetable",
               "The line will be finished on schedule", "We cannot run trains without staff"]),
    "courts": dict(
        counted=["defendants", "witnesses", "appeals", "charges", "convictions", "cases"],
        event=["charged", "acquitted", "heard", "convicted", "dismissed", "filed"],
        thing=["corruption trial", "extradition request", "appeal ruling", "asset freeze", "inquiry",
               "plea agreement", "judicial review"],
        role=["chief prosecutor", "defence lawyer", "presiding judge", "attorney general",
              "ombudsman"],
        action=["overturn", "uphold", "investigate", "reopen", "annul", "enforce"],
        group=["defendants", "victims' families", "journalists", "judges", "human rights lawyers"],
        building=["supreme court", "district court", "prosecutor's office", "justice ministry"],
        quote=["Justice delayed is justice denied", "The evidence speaks for itself",
               "My client has always maintained his innocence", "The court has exceeded its powers"]),
    "sport": dict(
        counted=["goals", "medals", "tickets", "fans", "matches", "athletes"],
        event=["scored", "won", "sold", "suspended", "played", "awarded"],
        thing=["championship final", "stadium project", "doping ban", "transfer deal", "world cup bid",
               "training camp", "league season"],
        role=["head coach", "team captain", "federation president", "sports minister", "club owner"],
        action=["host", "boycott", "sponsor", "appeal", "cancel", "renew"],
        group=["fans", "young athletes", "club members", "referees", "season ticket holders"],
        building=["national stadium", "sports federation", "olympic centre", "training ground"],
        quote=["We played for the people back home", "This team has nothing left to prove",
               "The decision is unfair to the athletes", "We will be back stronger next season"]),
    "technology": dict(
        counted=["users", "accounts", "servers", "devices", "downloads", "data records"],
        event=["hacked", "registered", "blocked", "exposed", "restored", "shipped"],
        thing=["data protection law", "broadband rollout", "cyber attack", "satellite launch",
               "payment app", "chip factory", "online censorship rule"],
        role=["digital minister", "chief technology officer", "security researcher", "regulator",
              "company founder"],
        action=["ban", "audit", "launch", "regulate", "patch", "license"],
        group=["internet users", "software developers", "online shoppers", "small firms", "teenagers"],
        building=["data centre", "telecoms regulator", "technology park", "cyber security agency"],
        quote=["No system is completely secure", "People have a right to know how their data is used",
               "The network was restored within hours", "This launch puts the country on the map"]),
    "education": dict(
        counted=["schools", "teachers", "students", "scholarships", "classrooms", "exam papers"],
        event=["closed", "hired", "enrolled", "awarded", "rebuilt", "marked"],
        thing=["exam reform", "school meals programme", "tuition fee", "teacher strike", "curriculum review",
               "literacy campaign"],
        role=["education minister", "university rector", "head teacher", "teachers' union leader",
              "student representative"],
        action=["fund", "reform", "scrap", "expand", "evaluate", "postpone"],
        group=["pupils", "parents", "graduates", "teachers", "rural schools"],
        building=["education ministry", "national university", "teacher training college", "school board"],
        quote=["Our children cannot wait another year", "Teachers are the backbone of this country",
               "The exam measures memory, not understanding", "Every classroom needs a qualified teacher"]),
    "agriculture": dict(
        counted=["tonnes of wheat", "cattle", "farms", "hectares of maize", "tractors", "sacks of coffee"],
        event=["harvested", "lost", "exported", "vaccinated", "abandoned", "irrigated"],
        thing=["harvest forecast", "seed subsidy", "land reform", "irrigation project", "export ban",
               "fertiliser price", "livestock census"],
        role=["agriculture minister", "farmers' union leader", "agronomist", "cooperative manager",
              "trade envoy"],
        action=["subsidise", "restrict", "modernise", "insure", "expand", "halt"],
        group=["smallholders", "farm workers", "grain traders", "rural communities", "cooperatives"],
        building=["agriculture ministry", "grain exchange", "cooperative headquarters", "market hall"],
        quote=["The rains came late and the harvest suffered", "Farmers cannot plan without fair prices",
               "We feed the nation and we are forgotten", "The new seeds doubled our yields"]),
}

# ---------------------------------------------------------------------------- templates
# Each template: (sentence, question, answer key) where the question may be None.
TEMPLATES: list[tuple[str, str | None, str | None]] = [
    ("{org} said on {weekday} that {num} {counted} had been {event} in {place} since {month}.",
     "How many {counted} had been {event} in {place} since {month}?", "num"),
    ("{person}, the {role} of {org}, told reporters in {place} that the {thing} would {action_inf} by {date}.",
     "Who is the {role} of {org}?", "person"),
    ("In {place}, {pct} percent of {group} said they opposed the {thing}, according to a survey by {org}.",
     "What percentage of {group} in {place} opposed the {thing}?", "pct"),
    ("The {thing} in {place} will cost {money}, {person} said, adding that {org} would {action} the plan.",
     "How much will the {thing} in {place} cost?", "money"),
    ("{person} announced on {date} that {org} would {action} its {thing} in {place}.",
     "When did {person} announce that {org} would {action} its {thing}?", "date"),
    ("About {num} {group} gathered outside the {building} in {place} on {weekday} to protest against the {thing}.",
     "How many {group} gathered outside the {building} in {place}?", "num"),
    ("Officials at {org} estimated that the {thing} would affect about {num} {group} across {country}.",
     "How many {group} would the {thing} affect across {country}?", "num"),
    ("“{quote},” {person} said in a statement released by {org} on {weekday}.",
     "Who said “{quote}”?", "person"),
    ("The {thing} was first proposed in {year} by {person}, then a {role} in {place}.",
     "Who first proposed the {thing} in {place}?", "person"),
    ("By {month}, {org} had {event} {num} {counted}, up from {num2} a year earlier.",
     "How many {counted} had {org} {event} by {month}?", "num"),
    ("Critics, including {person} of {org}, said the {thing} ignored the needs of {group} in {place}.",
     "Which organisation does {person} belong to?", "org"),
    ("{place} and {place2} signed an agreement on {date} covering the {thing} and the rights of {group}.",
     "When did {place} and {place2} sign an agreement on the {thing}?", "date"),
    ("The {building} in {place} was closed for {num_small} days after the {thing} was announced.",
     "For how many days was the {building} in {place} closed?", "num_small"),
    ("{person}, {age}, has served as {role} since {year}.",
     "How old is {person}?", "age"),
    ("Residents of {place} waited {num_small} hours for news about the {thing}, local media reported.",
     None, None),
    ("The {role} of {country}, {person}, is expected to visit {place} in {month} to discuss the {thing}.",
     "Who is the {role} of {country}?", "person"),
    ("A spokesperson for {org} declined to comment on the {thing} when contacted on {weekday}.", None, None),
    ("Figures published by {org} show that {num} {counted} were {event} in the first half of {year}.",
     "How many {counted} were {event} in the first half of {year}?", "num"),
    ("{person} warned that {group} in {place} would bear the cost if the {thing} went ahead.", None, None),
    ("Talks between {org} and {org2} broke down late on {weekday} over the {thing}.",
     "What did talks between {org} and {org2} break down over?", "thing"),
]
HEADLINES = [
    "{place} {head_verb} {thing} as {group} protest",
    "{org} to {action} {thing} after {num} {counted} {event}",
    "{person} defends {thing} amid criticism in {place}",
    "{country} weighs {thing} as {counted} {event} in {place}",
    "{num} {counted} {event} in {place}, {org} says",
    "Anger in {place} over {thing}",
    "{person} named {role} as {thing} stalls",
]
HEAD_VERBS = ["debates", "approves", "delays", "rejects", "braces for", "questions", "welcomes"]


@dataclass
class SynthSummary:
    out: str
    articles: int
    chunks: int
    bytes: int
    seconds: float
    seed: int
    questions: list[dict] = field(default_factory=list)  # {"question", "answer", "source"}


# ---------------------------------------------------------------------------- Markov chain
_TOKEN = re.compile(r"’s|(?:[A-Za-z]\.){2,}|\d[\d,.:]*\d|\d|\w+(?:[-’']\w+)*|[.,;:?!]")
_CAP = re.compile(r"^[A-Z]")
SLOT_ONE, SLOT_TWO, SLOT_ORG, SLOT_NUM, SLOT_YEAR = "<C1>", "<P>", "<ORG>", "<NUM>", "<YEAR>"
SLOTS = {SLOT_ONE, SLOT_TWO, SLOT_ORG, SLOT_NUM, SLOT_YEAR}
START, END = "<S>", "</S>"


def _training_sentences(corpus: Path) -> list[str]:
    from retrieval.chunking import sentence_spans
    from retrieval.loaders import iter_corpus

    out = []
    for _path, docs, reason in iter_corpus([corpus]):
        if reason is not None:
            continue
        for doc in docs or []:
            for a, b in doc.spans:
                out += [doc.text[s:e] for s, e in sentence_spans(doc.text, a, b)]
    return out


def _slot_tokens(sentence: str, lower_vocab: set[str]) -> list[str]:
    """Words of a sentence with names and numbers replaced by slots."""
    raw = _TOKEN.findall(sentence.replace("’s", " ’s").replace("'s", " ’s"))
    raw = [t for t in raw if t]
    out: list[str] = []
    i = 0
    while i < len(raw):
        t = raw[i]
        if t[0].isdigit():
            out.append(SLOT_YEAR if re.fullmatch(r"(19|20)\d\d", t) else SLOT_NUM)
            i += 1
            continue
        is_name = bool(_CAP.match(t)) and t not in ("I",) and (i > 0 or t.lower() not in lower_vocab)
        if is_name:
            j = i
            while j < len(raw) and _CAP.match(raw[j]) and raw[j] != "I":
                j += 1
            n = j - i
            out.append(SLOT_ONE if n == 1 else SLOT_TWO if n == 2 else SLOT_ORG)
            i = j
            continue
        out.append(t.lower() if i == 0 else t)
        i += 1
    return out


class Markov:
    """Order-2 word chain with order-1 backoff over slot-abstracted sentences."""

    def __init__(self, sentences: list[str], backoff: float = 0.25):
        lower_vocab = {w for s in sentences for w in re.findall(r"\b[a-z][\w’']*", s)}
        self.next2: dict[tuple[str, str], list[str]] = defaultdict(list)
        self.next1: dict[str, list[str]] = defaultdict(list)
        self.backoff = backoff
        for s in sentences:
            toks = _slot_tokens(s, lower_vocab)
            if len(toks) < 5:
                continue
            seq = [START, START, *toks, END]
            for a, b, c in zip(seq, seq[1:], seq[2:]):
                self.next2[(a, b)].append(c)
                self.next1[b].append(c)

    def sentence(self, rng: random.Random, max_tokens: int = 60) -> list[str]:
        a, b = START, START
        out = []
        for _ in range(max_tokens):
            options = self.next2.get((a, b))
            if not options or (rng.random() < self.backoff and len(set(self.next1.get(b, ()))) > 1):
                options = self.next1.get(b) or [END]
            c = rng.choice(options)
            if c == END:
                break
            out.append(c)
            a, b = b, c
        return out


# ---------------------------------------------------------------------------- cast and filling
def _syllable_word(rng: random.Random, n: tuple[int, int], ends: list[str]) -> str:
    w = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(*n))) + rng.choice(ends)
    return w[0].upper() + w[1:]


@dataclass
class Cast:
    people: list[str]
    places: list[str]
    country: str
    orgs: list[str]


def _cast(rng: random.Random) -> Cast:
    people = [f"{rng.choice(FIRST_NAMES)} {_syllable_word(rng, (1, 2), SURNAME_ENDS)}" for _ in range(4)]
    places = [rng.choice(PLACE_PREFIXES) + _syllable_word(rng, (1, 2), PLACE_ENDS) for _ in range(3)]
    country = "Republic of " + _syllable_word(rng, (1, 2), ["ia", "ania", "istan", "ador", "onia"]) \
        if rng.random() < 0.3 else _syllable_word(rng, (1, 2), ["ia", "ania", "istan", "ador", "onia", "land"])
    orgs = []
    for _ in range(2):
        kind = rng.random()
        if kind < 0.4:
            orgs.append(f"{rng.choice(ORG_ADJS)} {rng.choice(ORG_NOUNS)} for {rng.choice(ORG_FIELDS)}")
        elif kind < 0.7:
            orgs.append(f"{rng.choice(ORG_NOUNS)} of {rng.choice(ORG_FIELDS)} of {rng.choice(places)}")
        else:
            orgs.append(f"{_syllable_word(rng, (1, 2), SURNAME_ENDS)} {rng.choice(ORG_NOUNS)}")
    return Cast(people, places, country, orgs)


def _number(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.35:
        return str(rng.randint(2, 99))
    if r < 0.7:
        return f"{rng.randint(100, 9999):,}"
    if r < 0.9:
        return f"{rng.randint(10_000, 2_000_000):,}"
    return f"{rng.randint(1, 99)}.{rng.randint(1, 9)}"


def _count(rng: random.Random) -> str:
    r = rng.random()
    return str(rng.randint(2, 99)) if r < 0.3 else f"{rng.randint(100, 9999):,}" if r < 0.75 else \
        f"{rng.randint(10_000, 900_000):,}"


def _date(rng: random.Random) -> str:
    return f"{rng.choice(MONTHS)} {rng.randint(1, 28)}, {rng.randint(2005, 2031)}"


def _fill_markov(tokens: list[str], cast: Cast, rng: random.Random) -> str:
    words = []
    for t in tokens:
        if t == SLOT_ONE:
            r = rng.random()
            t = rng.choice(cast.places) if r < 0.45 else cast.country if r < 0.7 else \
                rng.choice(cast.people).split()[-1]
        elif t == SLOT_TWO:
            t = rng.choice(cast.people)
        elif t == SLOT_ORG:
            t = "the " + rng.choice(cast.orgs) if words and words[-1].lower() not in ("the", "of") \
                else rng.choice(cast.orgs)
        elif t == SLOT_NUM:
            t = _number(rng)
        elif t == SLOT_YEAR:
            t = str(rng.randint(1995, 2031))
        words.append(t)
    text = ""
    for w in words:
        if text and not (w in ".,;:?!" or w == "’s"):
            text += " "
        text += w
    text = text.strip()
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    if text[-1] not in ".?!":
        text = text.rstrip(",;:") + "."
    return text


def _template_fields(cast: Cast, topic: dict, rng: random.Random) -> dict[str, str]:
    action = rng.choice(topic["action"])
    people = rng.sample(cast.people, 2)
    places = rng.sample(cast.places, 2)
    orgs = rng.sample(cast.orgs, 2)
    return {
        "org": orgs[0], "org2": orgs[1],
        "person": people[0], "place": places[0], "place2": places[1], "country": cast.country,
        "weekday": rng.choice(WEEKDAYS), "month": rng.choice(MONTHS), "date": _date(rng),
        "year": str(rng.randint(1998, 2030)), "num": _count(rng), "num2": _count(rng),
        "num_small": str(rng.randint(2, 30)), "pct": str(rng.randint(8, 92)), "age": str(rng.randint(29, 81)),
        "money": f"{rng.randint(2, 950)} million {rng.choice(['dollars', 'euros', 'pesos', 'francs'])}",
        "counted": rng.choice(topic["counted"]), "event": rng.choice(topic["event"]),
        "thing": rng.choice(topic["thing"]), "role": rng.choice(topic["role"]), "action": action,
        "action_inf": action, "group": rng.choice(topic["group"]), "building": rng.choice(topic["building"]),
        "quote": rng.choice(topic["quote"]), "head_verb": rng.choice(HEAD_VERBS),
    }


def _cap_first(s: str) -> str:
    return s[0].upper() + s[1:] if s else s


# ---------------------------------------------------------------------------- generator
class Generator:
    """Makes one article at a time; every sentence is new within this generator."""

    def __init__(self, seed: int = 0, corpus: Path | None = None, markov_share: float = 0.5):
        self.rng = random.Random(seed)
        self.seed = seed
        self.markov = Markov(_training_sentences(corpus or ROOT / "corpus"))
        self.markov_share = markov_share
        self.seen: set[bytes] = set()
        self.topics = sorted(TOPICS)

    def _new(self, text: str) -> bool:
        key = hashlib.blake2b(" ".join(text.lower().split()).encode(), digest_size=12).digest()
        if key in self.seen:
            return False
        self.seen.add(key)
        return True

    def _markov_sentence(self, cast: Cast) -> str | None:
        for _ in range(20):
            toks = self.markov.sentence(self.rng)
            n_words = sum(1 for t in toks if t not in ".,;:?!")
            if not 8 <= n_words <= 45:
                continue
            text = _fill_markov(toks, cast, self.rng)
            if self._new(text):
                return text
        return None

    def _template_sentence(self, cast: Cast, topic: dict) -> tuple[str, dict | None] | None:
        for _ in range(20):
            sent, question, key = self.rng.choice(TEMPLATES)
            f = _template_fields(cast, topic, self.rng)
            text = _cap_first(sent.format(**f))
            if self._new(text):
                q = {"question": question.format(**f), "answer": f[key]} if question else None
                return text, q
        return None

    def article(self) -> tuple[str, str, list[dict]]:
        """(title, text, questions) for one new article."""
        rng = self.rng
        topic = TOPICS[rng.choice(self.topics)]
        cast = _cast(rng)
        f = _template_fields(cast, topic, rng)
        title = _cap_first(rng.choice(HEADLINES).format(**f))
        paragraphs, questions = [], []
        for _ in range(rng.randint(4, 10)):
            sents = []
            for _ in range(rng.randint(2, 4)):
                if rng.random() < self.markov_share:
                    s = self._markov_sentence(cast)
                else:
                    got = self._template_sentence(cast, topic)
                    s = None
                    if got:
                        s, q = got
                        if q:
                            questions.append(q)
                if s:
                    sents.append(s)
            if sents:
                paragraphs.append(" ".join(sents))
        return title, title + "\n\n" + "\n\n".join(paragraphs) + "\n", questions


def _chunk_count(path: Path, root: Path) -> int:
    from retrieval.chunking import chunk_document
    from retrieval.loaders import load_path

    return sum(len(chunk_document(d)) for d in load_path(path, root))


def generate(out: Path, chunks: int, seed: int = 0, corpus: Path | None = None,
             progress: Callable[[int, int], None] | None = None, max_questions: int = 500) -> SynthSummary:
    """Write articles into ``out`` (which must be empty or missing) until newsdesk's chunker
    counts at least ``chunks`` chunks. Returns what was written and a sample of questions
    (with their answers and source files) taken from the template sentences."""
    started = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):
        raise SystemExit(f"{out} is not empty; give a new folder.")
    root = out.resolve()
    gen = Generator(seed, corpus)
    qrng = random.Random(seed + 1)
    total = written = n_bytes = 0
    questions: list[dict] = []
    seen_q = 0
    while total < chunks:
        title, text, qs = gen.article()
        slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40]
        path = out / f"{written:06d}_{slug}.txt"
        path.write_text(text, encoding="utf-8")
        n_bytes += len(text.encode("utf-8"))
        total += _chunk_count(path, root)
        for q in qs:  # reservoir sample, so questions come from the whole corpus
            q = {**q, "source": path.name}
            seen_q += 1
            if len(questions) < max_questions:
                questions.append(q)
            else:
                j = qrng.randrange(seen_q)
                if j < max_questions:
                    questions[j] = q
        written += 1
        if progress and written % 50 == 0:
            progress(total, chunks)
    if progress:
        progress(total, chunks)
    return SynthSummary(str(out), written, total, n_bytes, time.perf_counter() - started, seed, questions)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.synth", description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, required=True, help="target number of newsdesk chunks")
    parser.add_argument("--out", type=Path, required=True, help="new (empty) folder for the .txt articles")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus", help="articles to train the Markov chain on")
    parser.add_argument("--questions", type=Path, help="also write sampled questions (JSON Lines) here; "
                                                       "keep it outside --out or it gets ingested")
    args = parser.parse_args(argv)

    def progress(done: int, total: int) -> None:
        print(f"\r{done:,}/{total:,} chunks", end="", file=sys.stderr, flush=True)

    s = generate(args.out, args.chunks, seed=args.seed, corpus=args.corpus, progress=progress)
    print(file=sys.stderr)
    if args.questions:
        args.questions.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in s.questions),
                                  encoding="utf-8")
    print(f"{s.articles:,} articles, {s.chunks:,} chunks, {s.bytes / 1e6:.1f} MB in {s.out} "
          f"({s.seconds:.1f}s, seed {s.seed})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
