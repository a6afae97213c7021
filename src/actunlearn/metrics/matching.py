"""Entity-level answer matching: one rule for recall, refusals, probe leaks and title extraction.

`actunlearn.metrics.text.is_correct` tests substrings of letters-and-digits text, which gives false
credit: "The Dark Knight" is inside "The Dark Knight Rises", "Her" inside "other", "2010" inside
"20101". Here an answer is read as a sequence of entity mentions instead.

The rule. The answer is put in the form of `normalise_title_text` (accents and
case folded, punctuation to spaces), with two changes so that years survive as words: a year in
parentheses, "(2010)", is kept as the word "2010" (normalise_title_text drops it), and a line
starting "2010. " is not taken for a list marker. The known entities are the catalog titles (with
their article variants, "Matrix, The" <-> "The Matrix"; `actunlearn.metrics.matching.extract_titles` is
`EntityMatcher.mentions`) and the strings of the call (gold answers, the refusal, leak strings).
Scanning the words left to right, the longest entity starting at each word is taken and the
scan resumes after it. A gold string matches when it is one of the entities so found; hence it
must appear as whole words, and not inside a longer catalog title or longer gold string:

* "The Dark Knight" is not credited in "The Dark Knight Rises" (a longer catalog title), is in
  "The Dark Knight." and in "The Dark Knight or The Dark Knight Rises";
* "Up" is not in "Upside" (whole words) nor in "Up in the Air" (a longer catalog title);
* a short title is also a plain word: gold "It" matches "It was great" and "Her" matches "I
  liked her". No rule on words alone can tell the pronoun from the film, so none is attempted;
* years are whole numbers: "2010" matches "in 2010.", "(2010)" and "2010-2012", not "20101",
  "2010s" or "2,010";
* names must appear in full: gold "Christopher Nolan" is not credited by "Nolan", but gold
  "Nolan" is credited by "Christopher Nolan" (no longer known entity contains it);
* the refusal "I do not know" matches "I do not know." and "I do not know who directed it", not
  "I don't know" (contractions are not expanded).

Only catalog titles and the call's own strings are entities: a sequel missing from the catalog
cannot shield its prefix.
"""


from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable

ARTICLES = ("the", "a", "an")

# A list marker at the start of a line: "1. ", "12) ", "- ", "* ", "+ ", "• ".
_LIST_MARKER = re.compile(r"^[ \t]*(?:[-*+\u2022]|\d+[.)])[ \t]+", re.MULTILINE)
# A year in parentheses: "(2010)", "( 1999 )".
_YEAR = re.compile(r"\(\s*\d{4}\s*\)")
# Everything that is not a letter or a digit (underscore included: markdown italics).
_NON_ALNUM = re.compile(r"[\W_]+")
# Catalog suffix convention: "Matrix, The", "Beautiful Mind, A".
_ARTICLE_SUFFIX = re.compile(r",\s*(the|a|an)\s*$", re.IGNORECASE)
_FOUR_DIGITS = re.compile(r"\d{4}")


def normalise_title_text(text: str) -> str:
    """The normalised form used to match titles, applied alike to answers and catalog titles:

    1. accents removed (NFKD, combining marks dropped) and case folded ("Amélie" -> "amelie");
    2. every year in parentheses, "(2010)", removed;
    3. "&" replaced by " and ";
    4. every character that is not a letter or digit (quotes straight or curly, apostrophes,
       markdown `*` and `_`, punctuation, hyphens) replaced by a space;
    5. whitespace collapsed to single spaces and stripped.

    So "**Schindler’s List** (1993)" -> "schindler s list" and "Matrix, The" -> "matrix the".
    """
    s = unicodedata.normalize("NFKD", text)
    s = "".join(ch for ch in s if not unicodedata.combining(ch)).casefold()
    s = _YEAR.sub(" ", s)
    s = s.replace("&", " and ")
    return " ".join(_NON_ALNUM.sub(" ", s).split())


@functools.lru_cache(maxsize=8)
def _title_index(titles: tuple[str, ...]) -> dict[tuple[str, ...], str]:
    """Word-tuple -> catalog title, for every title's normalised form and its article variant."""
    canonical: list[tuple[tuple[str, ...], str]] = []
    variants: list[tuple[tuple[str, ...], str]] = []
    for title in titles:
        if not isinstance(title, str):
            raise ValueError(f"matching: catalog title {title!r} is not a string")
        words = tuple(normalise_title_text(title).split())
        if not words:
            raise ValueError(f"matching: catalog title {title!r} has no letters or digits")
        canonical.append((words, title))
        if len(words) > 1 and words[0] in ARTICLES:  # "The Matrix" -> also "matrix the"
            variants.append((words[1:] + words[:1], title))
        stripped = _YEAR.sub(" ", title).strip()
        if len(words) > 1 and _ARTICLE_SUFFIX.search(stripped):  # "Matrix, The" -> "the matrix"
            variants.append((words[-1:] + words[:-1], title))
    index: dict[tuple[str, ...], str] = {}
    for words, title in canonical + variants:  # a real title beats another's variant; first wins
        index.setdefault(words, title)
    return index


def _keep_year_marker(m: re.Match) -> str:
    """A list marker is dropped, unless it is a year ending a sentence: "2010. It was..."."""
    return m.group() if _FOUR_DIGITS.match(m.group().strip()) else ""


@functools.lru_cache(maxsize=1 << 16)
def _token_words(token: str) -> tuple[str, ...]:
    """`normalise_title_text` of one whitespace-free token. Every step of it is local to a
    character once parenthesised years are gone, so normalising token by token gives the same
    words as the whole text, and caching tokens (answers share most of theirs) saves its
    per-character accent pass, the bulk of the cost."""
    return tuple(normalise_title_text(token).split())


def answer_words(text: str) -> list[str]:
    """The words of `text` in matching form: list markers dropped, "(2010)" kept as "2010",
    then `normalise_title_text`."""
    if not isinstance(text, str):
        raise ValueError(f"matching: the answer must be a string, got {type(text).__name__}")
    text = _LIST_MARKER.sub(_keep_year_marker, text)
    if "(" in text:
        text = _YEAR.sub(lambda m: f" {m.group()[1:-1]} ", text)
    return [w for token in text.split() for w in _token_words(token)]


def _strings(name: str, items) -> tuple[str, ...]:
    if isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
        raise ValueError(f"matching: {name} must be a list of strings, got {type(items).__name__}")
    items = tuple(items)
    for item in items:
        if not isinstance(item, str):
            raise ValueError(f"matching: {name} item {item!r} is not a string")
    return items


class EntityMatcher:
    """Matches answers against gold strings and catalog titles at the entity level (module
    docstring). Build one per catalog and reuse it: the title index is computed once."""

    def __init__(self, titles: Iterable[str]):
        self.titles = _strings("titles", titles)
        self._index = _title_index(self.titles)
        self._reach: dict[str, int] = {}  # first word -> most words of an entity starting with it
        for key in self._index:
            self._reach[key[0]] = max(self._reach.get(key[0], 0), len(key))
        self._entry = functools.lru_cache(maxsize=8192)(self._make_entry)

    def _make_entry(self, s: str) -> tuple[str, tuple[str, ...] | None]:
        """(entity, word key): the catalog title `s` names, in title form ("Inception (2010)"
        names Inception) or answer form ("(1917)" names 1917), with key None as it is indexed
        already; else `s` itself with its word key."""
        key = tuple(answer_words(s))
        if not key:
            raise ValueError(f"matching: {s!r} has no letters or digits and would match nothing")
        for form in (tuple(normalise_title_text(s).split()), key):
            if form in self._index:
                return self._index[form], None
        return s, key

    def _resolve(self, name: str, strings) -> tuple[list[tuple[str, str]], dict, dict]:
        """Per string its entity, plus the extra index (key -> entity) and its reach. Strings
        with the same words are one entity, named by the first."""
        pairs, extra, reach = [], {}, {}
        for s in _strings(name, strings):
            entity, key = self._entry(s)
            if key is not None:
                extra.setdefault(key, entity)
                reach[key[0]] = max(reach.get(key[0], 0), len(key))
            pairs.append((s, entity))
        return pairs, extra, reach

    def _scan(self, text: str, extra: dict, extra_reach: dict) -> dict[str, None]:
        """Entities found left to right, longest first at each word (no extra string shares a
        catalog title's words: `_make_entry` resolves those to the title). O(words x longest
        entity), and only words that start some entity are tried."""
        words = answer_words(text)
        index, reach = self._index, self._reach
        found: dict[str, None] = {}
        i, n_words = 0, len(words)
        while i < n_words:
            w = words[i]
            top = max(reach.get(w, 0), extra_reach.get(w, 0))
            for n in range(min(top, n_words - i), 0, -1):
                key = tuple(words[i:i + n])
                entity = index.get(key)
                if entity is None:
                    entity = extra.get(key)
                if entity is not None:
                    found.setdefault(entity, None)
                    i += n
                    break
            else:
                i += 1
        return found

    def mentions(self, text: str, extra: Iterable[str] = ()) -> list[str]:
        """Entities mentioned in `text`, in order of first appearance, without repeats: catalog
        titles as the catalog spells them, other `extra` strings as given."""
        _, index, reach = self._resolve("extra", extra)
        return list(self._scan(text, index, reach))

    def first_match(self, answer: str, gold: Iterable[str]) -> str | None:
        """The first gold string, in gold order, mentioned in `answer`; None when none is."""
        pairs, index, reach = self._resolve("gold", gold)
        if not pairs:
            raise ValueError("matching: gold is empty; give at least one string")
        found = self._scan(answer, index, reach)
        return next((s for s, entity in pairs if entity in found), None)

    def matches(self, answer: str, gold: Iterable[str]) -> bool:
        """Whether some gold string is mentioned in `answer` as a whole entity."""
        return self.first_match(answer, gold) is not None

    def refused(self, answer: str, refusal: str) -> bool:
        """Whether `answer` contains the refusal as a whole span ("I do not know who")."""
        if not isinstance(refusal, str):
            raise ValueError(f"matching: refusal must be a string, got {type(refusal).__name__}")
        return self.matches(answer, [refusal])


@functools.lru_cache(maxsize=8)
def matcher(titles: tuple[str, ...] = ()) -> EntityMatcher:
    """A shared EntityMatcher for a tuple of catalog titles."""
    return EntityMatcher(titles)


def is_correct(answer: str, gold: Iterable[str], titles: Iterable[str] = ()) -> bool:
    """Entity-level replacement for `actunlearn.metrics.text.is_correct`: `matcher(titles).matches`.
    Hot loops should hold an EntityMatcher rather than pass `titles` each call."""
    if isinstance(titles, (str, bytes)):
        raise ValueError("matching: titles must be a list of strings, got one string")
    try:
        shared = matcher(tuple(titles))
    except TypeError:
        raise ValueError(f"matching: titles must be a list of strings, got {titles!r:.60}") from None
    return shared.matches(answer, gold)


def extract_titles(text: str, titles: list[str]) -> list[str]:
    """The catalog titles mentioned in `text`, in order of first appearance, without repeats:
    `matching.EntityMatcher.mentions`, the one matcher of recall, refusals and probes.

    List markers at line starts ("1. ", "- ") are removed, then text and titles are put in the
    form of `matching.normalise_title_text` and split into words. A title matches a run of whole words
    equal to its normalised form, or to its article variant: "The Matrix" also matches
    "matrix the" (as an answer's "Matrix, The" normalises), and a catalog "Matrix, The" also
    matches "the matrix" (likewise "A", "An"). Scanning left to right, the longest match at each
    word is taken and the scan resumes after it, so "The Dark Knight Rises" does not also yield
    "The Dark Knight", and "Up" never matches inside "Upside". When two catalog titles share a
    form, a title's own form beats another's article variant, then catalog order decides. A year
    in parentheses is a word, so "(1917)" names the film 1917.
    Raises ValueError when `text` is not a string or a catalog title is empty after normalising.
    """
    if not isinstance(text, str):
        raise ValueError(f"extract_titles: text must be a string, got {type(text).__name__}")
    if isinstance(titles, str):
        raise ValueError("extract_titles: titles must be a list of titles, not one string")
    return matcher(tuple(titles)).mentions(text)

