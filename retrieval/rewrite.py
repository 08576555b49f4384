"""Turn a follow-up ("How old is he?") into a standalone question using the history.

No LLM is needed (or trusted) for this: a pronoun is replaced by the most recent
named entity from the conversation that fits it. The previous turn's short answer comes
first (the thing just talked about), then names in the previous answer and question.
Questions with no pronoun, or with no history, are returned unchanged.
"""
from __future__ import annotations

import re
from typing import Sequence

PERSON_PRONOUNS = {"he": "", "him": "", "his": "'s", "she": "", "her": "'s", "hers": "'s"}
THING_PRONOUNS = {"it": "", "its": "'s", "they": "", "them": "", "their": "'s", "theirs": "'s"}
PLACE_PRONOUNS = {"there"}
PRONOUN_RE = re.compile(r"\b(he|him|his|she|her|hers|it|its|they|them|their|theirs|there)\b", re.IGNORECASE)
ELLIPSIS_RE = re.compile(r"^\s*(and|what about|how about|and what about)\b\s*(?P<rest>.*?)\??\s*$", re.IGNORECASE)
# "And how did he ...?" is a whole question after a connective, not an ellipsis like "And Canada?".
FULL_QUESTION_RE = re.compile(r"^(?:how|what|which|who|whom|whose|when|where|why|did|does|do|is|was|were|are|has|"
                              r"have|had|can|could|would|will|should)\b", re.IGNORECASE)
CONNECTIVE_RE = re.compile(r"^\s*(?:and|so|but|also|then)\b[\s,]*", re.IGNORECASE)

# Capitalised runs, allowing inner particles (Nicolás Maduro, Luis Almagro, Organization of American States).
NAME_RE = re.compile(r"\b[A-ZÁÉÍÓÚÑ][\w’'.-]*(?:\s+(?:of|de|del|la|the|and)?\s*[A-ZÁÉÍÓÚÑ][\w’'.-]*)*")
LEADING_FUNCTION_WORDS = {
    "The", "A", "An", "In", "On", "At", "He", "She", "It", "They", "We", "I", "You", "His", "Her", "Their",
    "Who", "What", "When", "Where", "Why", "How", "Which", "Did", "Does", "Do", "Is", "Was", "Were", "Are",
    "And", "But", "Or", "After", "Before", "Since", "According", "Reports", "Report", "Yes", "No", "Its",
    "Mr", "Mrs", "Ms", "Dr", "Also", "Then", "Later", "Earlier", "This", "That", "These", "Those", "There",
}
PERSON_HINTS = {"president", "minister", "leader", "secretary", "official", "spokesman", "spokeswoman",
                "head", "student", "general", "senator", "mr", "mrs", "ms", "dr", "he", "she", "his", "her"}


def names(text: str) -> list[str]:
    """Capitalised names in ``text``, in order, without leading function words."""
    out = []
    for match in NAME_RE.finditer(text or ""):
        words = match.group(0).split()
        while words and words[0].strip(".,") in LEADING_FUNCTION_WORDS:
            words = words[1:]
        name = " ".join(words).strip(" .,;:’'")
        if name and name not in out:
            out.append(name)
    return out


def _strip_markers(text: str) -> str:
    return re.sub(r"\[\d+\]", "", text or "")


def referents(history: Sequence[Sequence[str]], short_answers: Sequence[str | None] = ()) -> list[str]:
    """Candidate antecedents, most recent and most salient first."""
    out: list[str] = []
    for i in range(len(history) - 1, -1, -1):
        question, answer = history[i][0], history[i][1]
        short = short_answers[i] if i < len(short_answers) else None
        for cand in names(short or "") + _answer_names(_first_sentence(_strip_markers(answer))) + names(question):
            if cand not in out:
                out.append(cand)
    return out


def _answer_names(text: str) -> list[str]:
    """Names in an answer, except a lone capitalised first word that only starts the sentence
    ("As the only legitimate branch ...", "Continue protecting ...")."""
    found = names(text)
    words = text.split()
    if found and len(words) > 1 and found[0] == words[0].strip(".,;:") and words[1][:1].islower():
        found = found[1:]
    return found


def _first_sentence(text: str) -> str:
    parts = re.split(r"(?<=[.!?])\s+", text.strip(), maxsplit=1)
    return parts[0] if parts else ""


def rewrite(question: str, history: Sequence[Sequence[str]]) -> str:
    """Standalone form of ``question`` given ``[question, answer]`` pairs of earlier turns."""
    question = question.strip()
    if not history:
        return question
    last_q, last_a = history[-1][0], history[-1][1]
    ellipsis = ELLIPSIS_RE.match(question)
    if ellipsis and FULL_QUESTION_RE.match(ellipsis.group("rest") or ""):
        question, ellipsis = CONNECTIVE_RE.sub("", question, count=1), None
        question = question[:1].upper() + question[1:]
    if ellipsis and ellipsis.group("rest"):
        # "What about Canada?" -> the last question, asked about Canada instead.
        rest = ellipsis.group("rest").strip()
        prev_names = names(last_q)
        if prev_names:
            return last_q.replace(prev_names[-1], rest, 1)
        return f"{last_q.rstrip('?')} {rest}?"
    match = PRONOUN_RE.search(question)
    if not match:
        content = [w for w in re.findall(r"[A-Za-z]+", question) if w.lower() not in _FUNCTION]
        if not content or (len(content) == 1 and not names(question[1:])):
            # "According to how many people?": too little to stand alone
            return f"{last_q.strip().rstrip('?')}? {question}"
        return question
    cands = referents(history, _short_answers(history))
    if not cands:
        return f"{question} ({last_q.strip()})"
    pron = match.group(1).lower()
    pick = cands[0]
    carried = _carried_referent(history, pron)
    if carried:
        # The previous question used the same kind of pronoun: the conversation is still about
        # whoever it stood for ("Who led X?" "Cabello." "What did he claim?" "Which body does he head?").
        cands = [carried] + [c for c in cands if c != carried]
        pick = carried
    if pron in PERSON_PRONOUNS:
        # Prefer a name mentioned as a person (a title or a personal pronoun near it).
        context = " ".join(f"{h[0]} {h[1]}" for h in history).lower()
        personal = [c for c in cands if len(c.split()) <= 6 and _looks_personal(c, context)]
        pick = personal[0] if personal else pick
        suffix = PERSON_PRONOUNS[pron]
    elif pron in THING_PRONOUNS:
        suffix = THING_PRONOUNS[pron]
    else:  # there
        return PRONOUN_RE.sub(f"in {pick}", question, count=1)
    replacement = pick + suffix
    start, end = match.span()
    return question[:start] + replacement + question[end:]


_FUNCTION = {"according", "to", "how", "many", "much", "what", "who", "when", "where", "why", "which", "and", "so",
             "but", "the", "a", "an", "of", "did", "does", "do", "is", "was", "were", "are", "exactly", "really",
             "else", "more", "people", "then", "that", "this", "in", "on", "at", "for", "by", "with"}


def _carried_referent(history: Sequence[Sequence[str]], pron: str) -> str | None:
    """What the same kind of pronoun stood for in the previous question, if it had one."""
    if len(history) < 2:
        return None
    prev_q = str(history[-1][0]).strip()
    m = PRONOUN_RE.search(prev_q)
    if not m:
        return None
    kind = lambda p: "person" if p in PERSON_PRONOUNS else "thing" if p in THING_PRONOUNS else "place"  # noqa: E731
    if kind(m.group(1).lower()) != kind(pron):
        return None
    resolved = rewrite(prev_q, history[:-1])
    if resolved == prev_q:
        return None
    before = set(names(prev_q))
    new = [n for n in names(resolved) if n not in before]
    return new[0].removesuffix("'s").removesuffix("’s") if new else None


def _short_answers(history: Sequence[Sequence[str]]) -> list[str | None]:
    return [h[2] if len(h) > 2 else None for h in history]


# Last words that make a name an organisation or a place, not a person.
BODY_WORDS = {"assembly", "party", "ministry", "council", "government", "congress", "court", "union", "organization",
              "organisation", "states", "nations", "house", "department", "agency", "committee", "forces", "army",
              "bank", "fund", "commission", "parliament", "senate", "office", "observatory", "times", "post", "news",
              "america", "europe", "africa", "asia", "city", "republic", "kingdom", "street", "square", "palace"}


def _looks_personal(name: str, context: str) -> bool:
    words = name.replace("’s", "").replace("'s", "").split()
    if not words or words[-1].lower() in BODY_WORDS or re.fullmatch(r"[A-Z.]+", words[-1]):
        return False  # "National Assembly", "U.S.", "OAS"
    low = name.lower()
    idx = context.find(low)
    if idx < 0:
        return True
    window = context[max(0, idx - 40): idx + len(low) + 40]
    if re.search(rf"\b(?:did|does|do|has|had|will|would|can|could|said|says|told|asked)\s+{re.escape(low)}\b"
                 rf"|\b{re.escape(low)}\s+(?:said|says|told|asked|added|warned|called|urged)\b", context):
        return True  # the subject of a speech or action verb
    return any(re.search(rf"\b{h}\b", window) for h in PERSON_HINTS) or len(name.split()) >= 2
