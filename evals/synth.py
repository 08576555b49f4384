"""Synthetic news corpora for the scaling benchmark: varied, news-like articles, deterministic
for a seed, sized in the project's own chunks.

    python -m evals.synth --chunks 10000 --out /tmp/synth10k [--seed 0] [--questions q.jsonl]

Every article has a *topic* and a generated *cast* (four people, three places, a country, two
organisations; words and templates are in ``synth.toml``). Half its sentences come from a word-level
Markov chain (order 2, backing off to order 1 a quarter of the time, so it makes new sentences
rather than replays) trained on ``corpus/`` with names replaced by slots by the length of the
capitalised run (one word: place or surname; two: person; more: organisation) and numbers by
number slots, which the cast and fresh numbers fill. The other half are news templates filled
from the topic and cast; each also yields a question with a known answer (the benchmark's
"synthetic-text questions"). No sentence is used twice in a corpus. The first line of each file is
a headline. Each article is counted with newsdesk's own loader and chunker as it is written, and
generation stops once the count reaches the target (give or take one article).
"""
from __future__ import annotations

import argparse
import calendar
import hashlib
import json
import random
import re
import sys
import time
import tomllib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]

WORDS = tomllib.loads((Path(__file__).with_name("synth.toml")).read_text(encoding="utf-8"))
FIRST_NAMES, SYLLABLES, SURNAME_ENDS, PLACE_ENDS = (WORDS[k].split() for k in ("first_names", "syllables",
                                                                               "surname_ends", "place_ends"))
PLACE_PREFIXES, ORG_NOUNS, ORG_FIELDS, ORG_ADJS, HEADLINES, HEAD_VERBS, TOPICS, TEMPLATES = (
    WORDS[k] for k in ("place_prefixes", "org_nouns", "org_fields", "org_adjs", "headlines", "head_verbs", "topics",
                       "templates"))
COUNTRY_ENDS = ["ia", "ania", "istan", "ador", "onia"]
MONTHS, WEEKDAYS = list(calendar.month_name)[1:], list(calendar.day_name)
PUNCT = ".,;:?!"


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
START, END = "<S>", "</S>"


def _training_sentences(corpus: Path) -> list[str]:
    from retrieval.chunking import sentence_spans
    from retrieval.loaders import iter_corpus

    return [doc.text[s:e] for _path, docs, reason in iter_corpus([corpus]) if reason is None for doc in docs or []
            for a, b in doc.spans for s, e in sentence_spans(doc.text, a, b)]


def _slot_tokens(sentence: str, lower_vocab: set[str]) -> list[str]:
    """Words of a sentence with names and numbers replaced by slots."""
    raw, out, i = _TOKEN.findall(sentence.replace("’s", " ’s").replace("'s", " ’s")), [], 0
    while i < len(raw):
        t, j = raw[i], i + 1
        if t[0].isdigit():
            out.append("<YEAR>" if re.fullmatch(r"(19|20)\d\d", t) else "<NUM>")
        elif _CAP.match(t) and t != "I" and (i > 0 or t.lower() not in lower_vocab):
            while j < len(raw) and _CAP.match(raw[j]) and raw[j] != "I":
                j += 1
            out.append({1: "<C1>", 2: "<P>"}.get(j - i, "<ORG>"))
        else:
            out.append(t.lower() if i == 0 else t)
        i = j
    return out


class Markov:
    """Order-2 word chain with order-1 backoff over slot-abstracted sentences."""

    def __init__(self, sentences: list[str], backoff: float = 0.25):
        lower_vocab = {w for s in sentences for w in re.findall(r"\b[a-z][\w’']*", s)}
        self.next2: dict[tuple[str, str], list[str]] = defaultdict(list)
        self.next1: dict[str, list[str]] = defaultdict(list)
        self.backoff = backoff
        for s in sentences:
            if len(toks := _slot_tokens(s, lower_vocab)) >= 5:
                seq = [START, START, *toks, END]
                for a, b, c in zip(seq, seq[1:], seq[2:]):
                    self.next2[(a, b)].append(c)
                    self.next1[b].append(c)

    def sentence(self, rng: random.Random, max_tokens: int = 60) -> list[str]:
        a, b, out = START, START, []
        for _ in range(max_tokens):
            options = self.next2.get((a, b))
            if not options or (rng.random() < self.backoff and len(set(self.next1.get(b, ()))) > 1):
                options = self.next1.get(b) or [END]
            if (c := rng.choice(options)) == END:
                break
            out.append(c)
            a, b = b, c
        return out


# ---------------------------------------------------------------------------- cast and filling
def _word(rng: random.Random, ends: list[str]) -> str:
    """A made-up name: one or two syllables and an ending."""
    return ("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 2))) + rng.choice(ends)).capitalize()


def _cast(rng: random.Random) -> dict:
    people = [f"{rng.choice(FIRST_NAMES)} {_word(rng, SURNAME_ENDS)}" for _ in range(4)]
    places = [rng.choice(PLACE_PREFIXES) + _word(rng, PLACE_ENDS) for _ in range(3)]
    country = "Republic of " + _word(rng, COUNTRY_ENDS) if rng.random() < 0.3 else _word(rng, COUNTRY_ENDS + ["land"])

    def org(r: float) -> str:
        return (f"{rng.choice(ORG_ADJS)} {rng.choice(ORG_NOUNS)} for {rng.choice(ORG_FIELDS)}" if r < 0.4 else
                f"{rng.choice(ORG_NOUNS)} of {rng.choice(ORG_FIELDS)} of {rng.choice(places)}" if r < 0.7 else
                f"{_word(rng, SURNAME_ENDS)} {rng.choice(ORG_NOUNS)}")

    return {"people": people, "places": places, "country": country, "orgs": [org(rng.random()) for _ in range(2)]}


def _number(rng: random.Random, top: int = 2_000_000, decimals: bool = True) -> str:
    r = rng.random()
    if decimals and r >= 0.9:
        return f"{rng.randint(1, 99)}.{rng.randint(1, 9)}"
    return str(rng.randint(2, 99)) if r < 0.33 else f"{rng.randint(100, 9999):,}" if r < 0.72 else \
        f"{rng.randint(10_000, top):,}"


def _fill_markov(tokens: list[str], cast: dict, rng: random.Random) -> str:
    words = []
    for t in tokens:
        if t == "<C1>":
            r = rng.random()
            t = rng.choice(cast["places"]) if r < 0.45 else cast["country"] if r < 0.7 else \
                rng.choice(cast["people"]).split()[-1]
        elif t == "<P>":
            t = rng.choice(cast["people"])
        elif t == "<ORG>":
            t = ("the " if words and words[-1].lower() not in ("the", "of") else "") + rng.choice(cast["orgs"])
        elif t in ("<NUM>", "<YEAR>"):
            t = _number(rng) if t == "<NUM>" else str(rng.randint(1995, 2031))
        words.append(t)
    text = re.sub(r" ([.,;:?!]|’s)(?= |$)", r"\1", " ".join(words)).strip()
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".?!" else text.rstrip(",;:") + "."


def _template_fields(cast: dict, topic: dict, rng: random.Random) -> dict[str, str]:
    (person, _), (place, place2), (org, org2) = (rng.sample(cast[k], 2) for k in ("people", "places", "orgs"))
    picked = {k: rng.choice(topic[k]) for k in ("action", "counted", "event", "thing", "role", "group", "building",
                                                  "quote")}
    return {
        **picked, "action_inf": picked["action"], "org": org, "org2": org2, "person": person, "place": place,
        "place2": place2, "country": cast["country"], "weekday": rng.choice(WEEKDAYS), "month": rng.choice(MONTHS),
        "date": f"{rng.choice(MONTHS)} {rng.randint(1, 28)}, {rng.randint(2005, 2031)}",
        "year": str(rng.randint(1998, 2030)), "num": _number(rng, 900_000, False),
        "num2": _number(rng, 900_000, False), "num_small": str(rng.randint(2, 30)), "pct": str(rng.randint(8, 92)),
        "age": str(rng.randint(29, 81)), "head_verb": rng.choice(HEAD_VERBS),
        "money": f"{rng.randint(2, 950)} million {rng.choice(['dollars', 'euros', 'pesos', 'francs'])}",
    }


def _cap_first(s: str) -> str:
    return s[:1].upper() + s[1:]


# ---------------------------------------------------------------------------- generator
class Generator:
    """Makes one article at a time; every sentence is new within this generator."""

    def __init__(self, seed: int = 0, corpus: Path | None = None, markov_share: float = 0.5):
        self.rng, self.markov_share, self.seen = random.Random(seed), markov_share, set()
        self.markov = Markov(_training_sentences(corpus or ROOT / "corpus"))

    def _sentence(self, cast: dict, topic: dict) -> tuple[str | None, dict | None]:
        """A sentence not used before (Markov or template) and its question, if any; (None, None)
        when 20 draws gave none."""
        markov = self.rng.random() < self.markov_share
        for _ in range(20):
            question = None
            if markov:
                toks = self.markov.sentence(self.rng)
                if not 8 <= sum(1 for t in toks if t not in PUNCT) <= 45:
                    continue
                text = _fill_markov(toks, cast, self.rng)
            else:
                t, f = self.rng.choice(TEMPLATES), _template_fields(cast, topic, self.rng)
                text = _cap_first(t["sentence"].format(**f))
                if t.get("question"):
                    question = {"question": t["question"].format(**f), "answer": f[t["answer"]]}
            key = hashlib.blake2b(" ".join(text.lower().split()).encode(), digest_size=12).digest()
            if key not in self.seen:
                self.seen.add(key)
                return text, question
        return None, None

    def article(self) -> tuple[str, str, list[dict]]:
        """(title, text, questions) for one new article."""
        rng = self.rng
        topic, cast = TOPICS[rng.choice(sorted(TOPICS))], _cast(rng)
        title = _cap_first(rng.choice(HEADLINES).format(**_template_fields(cast, topic, rng)))
        paragraphs, questions = [], []
        for _ in range(rng.randint(4, 10)):
            drawn = [self._sentence(cast, topic) for _ in range(rng.randint(2, 4))]
            questions += [q for s, q in drawn if q]
            if sentences := [s for s, _ in drawn if s]:
                paragraphs.append(" ".join(sentences))
        return title, title + "\n\n" + "\n\n".join(paragraphs) + "\n", questions


def generate(out: Path, chunks: int, seed: int = 0, corpus: Path | None = None,
             progress: Callable[[int, int], None] | None = None, max_questions: int = 500) -> SynthSummary:
    """Write articles into ``out`` (which must be empty or missing) until newsdesk's chunker
    counts at least ``chunks`` chunks. Returns what was written and a sample of questions
    (with their answers and source files) taken from the template sentences."""
    from retrieval.chunking import chunk_document
    from retrieval.loaders import load_path

    started, out = time.perf_counter(), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):
        raise SystemExit(f"{out} is not empty; give a new folder.")
    gen, qrng, root = Generator(seed, corpus), random.Random(seed + 1), out.resolve()
    total = written = n_bytes = seen_q = 0
    questions: list[dict] = []
    while total < chunks:
        title, text, qs = gen.article()
        path = out / f"{written:06d}_{re.sub(r'[^a-z0-9]+', '-', title.lower()).strip('-')[:40]}.txt"
        path.write_text(text, encoding="utf-8")
        n_bytes += len(text.encode("utf-8"))
        total += sum(len(chunk_document(d)) for d in load_path(path, root))
        for q in qs:  # reservoir sample, so questions come from the whole corpus
            seen_q += 1
            if len(questions) < max_questions:
                questions.append({**q, "source": path.name})
            elif (j := qrng.randrange(seen_q)) < max_questions:
                questions[j] = {**q, "source": path.name}
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
    s = generate(args.out, args.chunks, seed=args.seed, corpus=args.corpus,
                 progress=lambda done, total: print(f"\r{done:,}/{total:,} chunks", end="", file=sys.stderr,
                                                    flush=True))
    print(file=sys.stderr)
    if args.questions:
        args.questions.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in s.questions),
                                  encoding="utf-8")
    print(f"{s.articles:,} articles, {s.chunks:,} chunks, {s.bytes / 1e6:.1f} MB in {s.out} "
          f"({s.seconds:.1f}s, seed {s.seed})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
