import numpy as np
import pytest

from actunlearn.metrics.matching import (
    EntityMatcher,
    answer_words,
    extract_titles,
    is_correct,
    matcher,
    normalise_title_text,
)

CATALOG = [
    "The Dark Knight", "The Dark Knight Rises", "Inception", "Her", "Up", "It",
    "Where the Wild Things Are", "Star Trek", "Star Trek Into Darkness", "Matrix, The", "Amélie",
    "Schindler's List", "Mission: Impossible", "X-Men", "Up in the Air", "Toy Story",
    "Toy Story 3", "1917",
]
REFUSAL = "I do not know"


@pytest.fixture(scope="module")
def m():
    return EntityMatcher(CATALOG)


# ---------------------------------------------------------------- titles inside titles


@pytest.mark.parametrize("answer, expected", [
    ("The Dark Knight Rises", False),            # a longer catalog title holds it
    ("It is The Dark Knight Rises, I think.", False),
    ("The Dark Knight.", True),
    ("**The Dark Knight** (2008)", True),
    ("I'd watch The Dark Knight or The Dark Knight Rises", True),
    ("The Dark Knight Rises, then The Dark Knight", True),
    ("the dark knightly order", False),          # whole words only
])
def test_sequel_does_not_credit_its_prefix(m, answer, expected):
    assert m.matches(answer, ["The Dark Knight"]) is expected


@pytest.mark.parametrize("gold, answer, expected", [
    ("Star Trek", "Star Trek Into Darkness", False),
    ("Star Trek", "Star Trek, the 2009 one", True),
    ("Star Trek Into Darkness", "Star Trek Into Darkness", True),
    ("Toy Story", "Toy Story 3", False),
    ("Toy Story 3", "Toy Story 3", True),
    ("Toy Story", "Toy Story, then Toy Story 3", True),
])
def test_franchise_titles(m, gold, answer, expected):
    assert m.matches(answer, [gold]) is expected


def test_longer_gold_string_also_shields_its_prefix(m):
    # both recommendations are gold; the answer names only the sequel
    assert m.first_match("Watch Toy Story 3.", ["Toy Story", "Toy Story 3"]) == "Toy Story 3"


# ---------------------------------------------------------------- short titles


@pytest.mark.parametrize("answer", [
    "It is there.", "The other one.", "Where the Wild Things Are", "Hercules", "heroes",
])
def test_her_not_inside_words_or_titles(m, answer):
    assert m.matches(answer, ["Her"]) is False


@pytest.mark.parametrize("answer, expected", [
    ("Upside", False),
    ("Up in the Air", False),                    # a longer catalog title
    ("Up (2009)", True),
    ("Pixar's Up, about a flying house", True),
    ("Up in the Air and Up", True),
])
def test_up(m, answer, expected):
    assert m.matches(answer, ["Up"]) is expected


def test_short_title_is_also_a_plain_word(m):
    # the chosen rule: any whole-word occurrence outside a longer entity counts, pronouns too
    assert m.matches("It was great", ["It"]) is True
    assert m.matches("I liked her acting", ["Her"]) is True
    assert m.matches("Italy was great", ["It"]) is False


def test_no_credit_where_the_old_substring_rule_gave_it():
    # each gold string is a substring of the normalised answer (the old rule's false credit)
    for answer, gold in [("The Dark Knight Rises", "The Dark Knight"), ("other", "Her"),
                         ("20101", "2010"), ("Star Trek Into Darkness", "Star Trek")]:
        assert is_correct(answer, [gold], CATALOG) is False


# ---------------------------------------------------------------- forms of a title


@pytest.mark.parametrize("answer", ["The Matrix", "Matrix, The (1999)", "the matrix!"])
def test_article_variants(m, answer):
    assert m.matches(answer, ["Matrix, The"]) is True
    assert m.matches(answer, ["The Matrix"]) is True     # the gold's variant names the same film
    assert m.mentions(answer) == ["Matrix, The"]


def test_article_variant_of_a_prefix_catalog():
    assert EntityMatcher(["The Matrix"]).matches("Matrix, The", ["The Matrix"]) is True


@pytest.mark.parametrize("gold, answer, expected", [
    ("Schindler's List", "Schindler’s List", True),          # curly apostrophe
    ("Schindler's List", "“Schindler’s List” (1993)", True),
    ("Mission: Impossible", "Mission Impossible", True),
    ("Mission: Impossible", "mission - impossible", True),
    ("Mission: Impossible", "Mission", False),
    ("X-Men", "X Men", True),
    ("X-Men", "the X-Men films", True),
    ("X-Men", "Xmen", False),
    ("Amélie", "Amelie", True),                               # accents
    ("Amélie", "AMÉLIE", True),
    ("Amelie", "Amélie", True),
])
def test_punctuation_and_accents(m, gold, answer, expected):
    assert m.matches(answer, [gold]) is expected


# ---------------------------------------------------------------- years


@pytest.mark.parametrize("answer, expected", [
    ("It came out in 2010.", True),
    ("2010", True),
    ("Inception (2010)", True),                  # the parenthesised year is kept as a word
    ("Inception ( 2010 ) is good", True),
    ("2010. It was directed by Nolan.", True),   # a year ending a sentence is no list marker
    ("2010-2012", True),
    ("20101", False),
    ("the 2010s", False),
    ("2,010", False),
    ("12010", False),
    ("2011", False),
])
def test_years(m, answer, expected):
    assert m.matches(answer, ["2010"]) is expected


def test_year_that_is_a_title(m):
    # "1917" is a catalog title: as a gold year it is the same words, so the same entity
    assert m.matches("Released in 1917.", ["1917"]) is True
    assert m.mentions("10. 1917 (2019)") == ["1917"]


def test_gold_naming_a_title_in_another_form(m):
    assert m.first_match("Inception", ["Inception (2010)"]) == "Inception (2010)"
    assert m.first_match("It is 1917 (2019).", ["(1917)"]) == "(1917)"
    assert m.mentions("1917", extra=["(1917)"]) == ["1917"]


def test_list_numbers_are_not_words(m):
    assert m.matches("1. Inception\n2. Up", ["1"]) is False
    assert m.matches("1. Inception\n2. Up", ["Up"]) is True


# ---------------------------------------------------------------- names and refusals


@pytest.mark.parametrize("gold, answer, expected", [
    ("Christopher Nolan", "Christopher Nolan directed it", True),
    ("Christopher Nolan", "christopher  NOLAN!", True),
    ("Christopher Nolan", "Nolan directed it", False),        # a name must appear in full
    ("Christopher Nolan", "Jonathan Nolan", False),
    ("Nolan", "Christopher Nolan directed it", True),         # no longer entity contains it
    ("Nolan", "Nolans", False),
    ("Action", "It is an action film.", True),
    ("Action", "Lots of action-packed scenes", True),         # the hyphen splits words
    ("Action", "a reactionary film", False),
])
def test_names_and_genres(m, gold, answer, expected):
    assert m.matches(answer, [gold]) is expected


@pytest.mark.parametrize("answer, expected", [
    ("I do not know.", True),
    ("I do not know who directed it.", True),
    ("Sorry, i DO NOT know", True),
    ("I do not knowingly lie", False),
    ("I don't know", False),
    ("Christopher Nolan", False),
])
def test_refused(m, answer, expected):
    assert m.refused(answer, REFUSAL) is expected
    assert m.refused(answer, REFUSAL) is is_correct(answer, [REFUSAL], CATALOG)


def test_first_match_in_gold_order(m):
    gold = ["Toy Story", "Inception", "Up"]
    assert m.first_match("Up, and also Inception", gold) == "Inception"
    assert m.first_match("Nothing here", gold) is None


def test_gold_strings_with_the_same_words_are_one_entity(m):
    assert m.first_match("Nolan", ["NOLAN", "nolan"]) == "NOLAN"
    assert m.matches("nolan", ["Nolan!", "Christopher Nolan"]) is True


# ---------------------------------------------------------------- mentions


def test_mentions_longest_titles_in_order(m):
    answer = ("If you liked The Dark Knight Rises (2012), try Inception, Up in the Air, "
              "Toy Story 3 and Star Trek Into Darkness. Then Up, and the dark knight rises again.")
    assert m.mentions(answer) == ["The Dark Knight Rises", "Inception", "Up in the Air",
                                  "Toy Story 3", "Star Trek Into Darkness", "Up"]


def test_mentions_with_extra_strings(m):
    answer = "Her, by Spike Jonze (2013), is no Inception; I do not know the rest."
    assert m.mentions(answer, extra=["Spike Jonze", "2013", REFUSAL, "Inception (2010)"]) == [
        "Her", "Spike Jonze", "2013", "Inception", REFUSAL]


@pytest.mark.parametrize("text", [
    "Here are some picks:\n1. **Inception** (2010)\n2. **The Dark Knight Rises** (2012)",
    "- Matrix, The (1999)\n- The Matrix\n* _Amelie_ (2001)",
    "Up in the Air, Upside, Up, X Men, Schindler’s List",
    "No films here at all.",
    "",
])
def test_mentions_agree_with_extract_titles(m, text):
    assert m.mentions(text) == extract_titles(text, CATALOG)


@pytest.mark.parametrize("text", [
    "Schindler’s List & Amélie:  the X-Men\u00a0films!", "**Up**,_It_ ; Ça\tva\n\nÉTÉ", "",
    "ﬁlm Ｉｎｃｅｐｔｉｏｎ e\u0301t\u00e9",
])
def test_answer_words_token_by_token_equals_whole_text(text):
    assert answer_words(text) == normalise_title_text(text).split()


def test_answer_words():
    assert answer_words("**Inception** (2010), dir. Nolan") == ["inception", "2010", "dir", "nolan"]
    assert answer_words("2010. Yes\n3. Up") == ["2010", "yes", "up"]


# ---------------------------------------------------------------- module-level use


def test_is_correct_without_catalog():
    # no catalog: only the gold strings are entities, so a sequel cannot shield its prefix
    assert is_correct("The Dark Knight Rises", ["The Dark Knight"]) is True
    assert is_correct("The Dark Knight Rises", ["The Dark Knight"], CATALOG) is False
    assert is_correct("in 2010.", ["2010"]) is True


def test_is_correct_reuses_the_matcher():
    is_correct("Up", ["Up"], CATALOG)
    assert matcher(tuple(CATALOG)) is matcher(tuple(CATALOG))


def test_gold_as_numpy_array(m):
    # gold lists read back from Parquet are numpy arrays of str
    assert m.matches("Watch Up.", np.array(["Inception", "Up"], dtype=object)) is True


# ---------------------------------------------------------------- undefined input


@pytest.mark.parametrize("answer", [None, 3, float("nan"), ["Up"]])
def test_non_string_answer_raises(m, answer):
    with pytest.raises(ValueError, match="answer must be a string"):
        m.matches(answer, ["Up"])
    with pytest.raises(ValueError, match="answer must be a string"):
        m.mentions(answer)


@pytest.mark.parametrize("gold, message", [
    ([], "gold is empty"),
    (["!!!"], "no letters or digits"),
    (["Up", "  "], "no letters or digits"),
    (["(  )"], "no letters or digits"),
    ("Up", "must be a list of strings"),
    (None, "must be a list of strings"),
    ([None], "is not a string"),
])
def test_bad_gold_raises(m, gold, message):
    with pytest.raises(ValueError, match=message):
        m.matches("Up", gold)


def test_bad_refusal_extra_and_titles_raise(m):
    with pytest.raises(ValueError, match="refusal must be a string"):
        m.refused("I do not know", ["I do not know"])
    with pytest.raises(ValueError, match="no letters or digits"):
        m.refused("I do not know", "...")
    with pytest.raises(ValueError, match="no letters or digits"):
        m.mentions("Up", extra=["-"])
    with pytest.raises(ValueError, match="must be a list of strings"):
        EntityMatcher("Inception")
    with pytest.raises(ValueError, match="no letters or digits"):
        EntityMatcher(["Inception", "!!!"])
    with pytest.raises(ValueError, match="must be a list of strings"):
        is_correct("Up", ["Up"], titles="Up")
    with pytest.raises(ValueError, match="is not a string"):
        is_correct("Up", ["Up"], titles=["Up", None])
    with pytest.raises(ValueError, match="must be a list of strings"):
        is_correct("Up", ["Up"], titles=[["Up"]])
    with pytest.raises(ValueError, match="must be a list of strings"):
        is_correct("Up", ["Up"], titles=None)
