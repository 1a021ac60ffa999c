"""Rule-based normalization of instructions and narrations into one style: a short imperative, lower-case first word,
no trailing punctuation ("#C C picks up the cup." -> "pick up the cup").

It is the text-only captioner when no VLM is given, and the post-processing of every VLM answer, so both kinds of
caption read alike. Pure functions of strings; `RULES_VERSION` names the rule set in caption lineage, so a change of
rules can be told apart (and recaptioned) later.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from importlib import resources

from schemas.narration import parse_narration

RULES_VERSION = "eidata-rules-1"

# what adapters write when a source has no text at all (ingest.canonical.store uses "unspecified"), and similar
# non-answers
PLACEHOLDERS = frozenset({"", "unspecified", "none", "null", "n/a", "na", "unknown", "no task", "no description", "-"})

_WORDS = tomllib.loads(resources.files("ingest.encoders").joinpath("caption_verbs.toml").read_text(encoding="utf-8"))
VERBS = frozenset(_WORDS["verbs"].split()) | frozenset(_WORDS["epic_verbs"].split())  # bases converted (the file says)
_DOUBLED = frozenset(_WORDS["doubled"].split())
_IRREGULAR_3RD = {"has": "have", "does": "do", "goes": "go", "is": "be", "are": "be"}
_STILL = re.compile(r"^(?:still|continue|keep|keeps|continues)\s+(?=\w+ing\b)", re.IGNORECASE)
# a leading "cutting"/"washing" that names a thing, not an action ("cutting board on the table")
_GERUND_COMPOUNDS = frozenset({"board", "boards", "machine", "pan", "pans", "water", "liquid"})
# a narration cut off mid-sentence ("take carrots and"): the dangling word is dropped
_DANGLING = re.compile(r"\s+(?:and|or|then|with|to|from|into|onto)$", re.IGNORECASE)

# subjects a generic text may start with ("The robot picks ..."): removed only when a verb follows
_SUBJECT = re.compile(
    r"^(?:(?:the|a)\s+)?(?:robot(?:\s+arm)?|robotic\s+arm|person|user|man|woman|human|camera\s+wearer|gripper|arm|"
    r"hand|someone|he|she|they)\s+",
    re.IGNORECASE,
)
# Ego4D `#O` narrations name the other actor: "man X", "woman Y", "person A", or the bare letter
# "hands fold a towel": a plural subject takes the base form, so it is removed when a listed verb follows
_PLURAL_SUBJECT = re.compile(
    r"^(?:(?:the|both|two)\s+)?(?:hands|arms|robot\s+arms|grippers|people|persons)\s+(?=(\w+))", re.IGNORECASE
)
_OTHER_ACTOR = re.compile(r"^(?:(?:[Aa]|[Tt]he)\s+)?(?:(?:man|woman|person|boy|girl|lady|child|kid)\s+)?[A-Z]\b\s*")
_WEARER_SUBJECT = re.compile(r"^C\b\s*")
_CAMERA_WEARER = re.compile(r"\bC\b")
_SUMMARY_TAG = re.compile(r"^\s*#summary\b\s*", re.IGNORECASE)
_LABEL = re.compile(r"^(?:instruction|task|answer|caption|description)\s*:\s*", re.IGNORECASE)
_AUX = re.compile(r"^(?:is|are|was|were)\s+(\w+ing)\b\s*", re.IGNORECASE)
_COORDINATION = re.compile(r"(\b(?:and|then)\s+|,\s+)(\w+)\b")
_QUOTES = "\"'`“”‘’"
_TRAILING = ".!?;:, \t"


def normalize_instruction(text: str | None) -> str | None:
    """One imperative instruction from an instruction, a narration or a VLM answer; None when there is no text.

    Handled: control characters, Ego4D tags (`#C C ...` camera wearer, `#O man X ...` another person, `#unsure`,
    `#summary`), leading subjects ("the robot picks ..."), third-person and progressive verbs ("picks", "is picking"
    -> "pick", also after "and"/"then"), labels and quotes around VLM answers, whitespace, a capitalized first word,
    trailing punctuation, and placeholders ("unspecified", "n/a") -> None."""
    if not isinstance(text, str):
        return None
    # without control and format characters (line breaks kept) and U+FFFD, which a model decoding a cut-off
    # multi-byte character emits
    text = "".join(
        ch for ch in text if ch in "\n\r\t" or (ch != "\ufffd" and unicodedata.category(ch) not in ("Cc", "Cf"))
    )
    text = text.strip().splitlines()[0] if text.strip() else ""
    text = _LABEL.sub("", text.strip()).strip().strip(_QUOTES).strip()
    text, summary = _SUMMARY_TAG.subn("", text)
    if summary and re.match(r"C\b", text):  # "#summary C was cooking ...": the camera wearer, as in "#C C ..."
        text = "#C " + text
    subject_removed = False
    if text.startswith("#"):
        narration = parse_narration(text)
        body = narration["clean"]
        if narration["subject"] is not None:
            actor = _WEARER_SUBJECT if narration["subject"] == "C" else _OTHER_ACTOR
            body, subject_removed = _drop_subject(body, actor)
            if not body or actor.fullmatch(body):  # "#C C", "#O man X": an actor and nothing it did
                return None
        text = _CAMERA_WEARER.sub("the camera wearer", body)
    text = " ".join(text.split()).rstrip(_TRAILING).strip(_QUOTES).rstrip(_TRAILING)
    if not subject_removed:
        text, subject_removed = _drop_subject(text, _SUBJECT)
    if not subject_removed and (plural := _PLURAL_SUBJECT.match(text)):
        rest = text[plural.end() :]
        if plural.group(1).lower() in VERBS or _AUX.match(rest):
            text, subject_removed = rest, True
    text = _ongoing(text)
    text = _imperative(text, subject_removed)
    text = _DANGLING.sub("", text)
    text = _lower_first(text)
    return None if text.lower() in PLACEHOLDERS else text


def _ongoing(text: str) -> str:
    """EPIC-style ongoing actions -> the action itself: "still washing courgette" and "dicing courgette" ->
    "washing ..." -> "wash courgette", "dice courgette" (a leading gerund of a listed verb, unless it names a thing)."""
    text = _STILL.sub("", text)
    first, _, rest = text.partition(" ")
    base = gerund_base(first)
    if base is None or rest.split(" ", 1)[0].lower() in _GERUND_COMPOUNDS:
        return text
    return f"{base} {rest}" if rest else base


def _drop_subject(text: str, subject: re.Pattern[str]) -> tuple[str, bool]:
    """`text` without its leading subject when one matches and a verb follows it ("man X hands" -> "hands")."""
    m = subject.match(text)
    if m is None:
        return text, False
    rest = text[m.end() :]
    first = rest.split(" ", 1)[0] if rest else ""
    if _AUX.match(rest) or base_form(first, known_only=False) is not None:
        return rest, True
    return text, False


def _imperative(text: str, after_subject: bool) -> str:
    """Third-person or progressive verbs -> base form: the first word, and listed verbs after "and"/"then"/","."""
    if not text:
        return text
    aux = _AUX.match(text)
    if aux is not None and (after_subject or gerund_base(aux.group(1)) is not None):
        text = (gerund_base(aux.group(1)) or aux.group(1)) + " " + text[aux.end() :]
    else:
        first, _, rest = text.partition(" ")
        base = base_form(first, known_only=not after_subject)
        if base is not None:
            text = f"{base} {rest}" if rest else base
    return _COORDINATION.sub(lambda m: m.group(1) + _coordinated(m.group(2)), text).strip()


def _coordinated(word: str) -> str:
    base = base_form(word, known_only=True)
    if base is None:
        base = gerund_base(word)
    return base if base is not None else word


def base_form(word: str, *, known_only: bool = True) -> str | None:
    """The base of a third-person singular verb ("picks" -> "pick", "carries" -> "carry", "washes" -> "wash"), or None
    when `word` is not one. `known_only` accepts only verbs in `VERBS` (otherwise any plausible -s form)."""
    w = word.lower()
    if w in _IRREGULAR_3RD:
        base = _IRREGULAR_3RD[w]
        return None if base == "be" else _keep_case(word, base)
    candidates = []
    if len(w) > 4 and w.endswith("ies"):
        candidates.append(w[:-3] + "y")
    if w.endswith(("sses", "shes", "ches", "xes", "zzes", "oes")):
        candidates.append(w[:-2])
    if w.endswith("s") and not w.endswith(("ss", "us", "is")) and len(w) > 2:
        candidates.append(w[:-1])
    for base in candidates:
        if base in VERBS:
            return _keep_case(word, base)
    if known_only or not candidates or not w.isalpha():
        return None
    return _keep_case(word, candidates[0])


def gerund(base: str) -> str:
    if base.endswith("ie"):
        return base[:-2] + "ying"
    if base.endswith("e") and not base.endswith(("ee", "ye", "oe")):
        return base[:-1] + "ing"
    if base in _DOUBLED:
        return base + base[-1] + "ing"
    return base + "ing"


_GERUNDS = {gerund(v): v for v in VERBS}


def gerund_base(word: str) -> str | None:
    """The base of a listed verb's -ing form ("cutting" -> "cut", "placing" -> "place"), else None."""
    base = _GERUNDS.get(word.lower())
    return None if base is None else _keep_case(word, base)


def _keep_case(word: str, base: str) -> str:
    return base.capitalize() if word[:1].isupper() else base


def _lower_first(text: str) -> str:
    """Lower-case a capitalized first word ("Put" -> "put") but keep acronyms and names in caps ("TV", "I")."""
    first, sep, rest = text.partition(" ")
    if len(first) > 1 and first[0].isupper() and first[1:].islower():
        first = first.lower()
    return first + sep + rest
