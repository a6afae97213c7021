import pandas as pd
import pytest

from actunlearn.unlearning.sequential import (
    check_targets,
    neighbours_of,
    retarget,
    status_at,
    summarise_sequence,
)

CATALOG = pd.DataFrame({
    "title": ["A", "B", "C", "D", "U"],
    "director": ["x", "x", "y", "z", "w"],
    "star": ["s", "t", "t", "u", "v"],
    "role": ["forget", "neighbour", "retain", "retain", "unknown"],
})


def _prompts():
    rows = []
    for title, role in zip(CATALOG.title, CATALOG.role):
        rows.append({"prompt_id": len(rows), "title": title, "role": role, "intent": "director",
                     "split": "train", "gold": ["x"]})
    # a recommendation whose answer is A: it teaches A back, so it leaves once A is forgotten
    rows.append({"prompt_id": len(rows), "title": "C", "role": "retain", "intent": "recommend",
                 "split": "train", "gold": ["A"]})
    return pd.DataFrame(rows)


def _corpus():
    return pd.DataFrame({"line_id": range(4), "title": ["A", "B", "C", "C"],
                         "mentions": [["A"], ["B"], ["C", "A"], ["C", "B"]],
                         "forget": [True, False, True, False]})


def test_neighbours_share_director_or_star():
    assert neighbours_of(CATALOG, "B", ["director", "star"]) == {"A", "C"}
    assert neighbours_of(CATALOG, "B", ["director"]) == {"A"}


def test_retarget_first_step_relabels_around_the_target():
    p, c = retarget(_prompts(), _corpus(), CATALOG, "B", [], ["director", "star"])
    roles = p.drop_duplicates("title").set_index("title").role
    assert roles.to_dict() == {"A": "neighbour", "B": "forget", "C": "neighbour", "D": "retain",
                               "U": "unknown"}
    assert c.set_index("line_id").forget.to_dict() == {0: False, 1: True, 2: False, 3: True}


def test_retarget_later_step_drops_everything_about_forgotten_targets():
    p, c = retarget(_prompts(), _corpus(), CATALOG, "B", ["A"], ["director", "star"])
    assert "A" not in set(p.title)
    assert not p.gold.apply(lambda g: "A" in g).any()  # the recommendation of A is gone
    assert not c.mentions.apply(lambda m: "A" in m).any()
    assert set(c.line_id) == {1, 3}
    with pytest.raises(ValueError, match="already forgotten"):
        retarget(_prompts(), _corpus(), CATALOG, "A", ["A"], ["director"])


def test_status_and_target_checks():
    targets = ["A", "B"]
    assert [status_at("A", targets, s) for s in (0, 1, 2)] == ["pending", "forgotten", "forgotten"]
    assert status_at("B", targets, 1) == "pending" and status_at("C", targets, 1) is None
    check_targets(targets, CATALOG)
    with pytest.raises(ValueError, match="not known films"):
        check_targets(["A", "U"], CATALOG)


def test_summary_reports_each_target_and_the_rest_per_step():
    recall = pd.DataFrame({
        "step": [0, 0, 0, 1, 1, 1], "title": ["A", "B", "D"] * 2,
        "role": ["forget", "neighbour", "retain"] * 2, "split": ["held_out"] * 6,
        "correct": [True, True, True, False, True, True], "refused": [False] * 3 + [True, False, False],
    })
    s = summarise_sequence(recall, ["A", "B"]).set_index(["step", "group"])
    assert s.loc[(1, "A"), "recall"] == 0.0 and s.loc[(1, "A"), "status"] == "forgotten"
    assert s.loc[(1, "B"), "recall"] == 1.0 and s.loc[(1, "B"), "status"] == "pending"
    assert s.loc[(1, "A"), "forgot"] == "A" and pd.isna(s.loc[(0, "A"), "forgot"])
    assert s.loc[(1, "retain"), "recall"] == 1.0
    assert ("neighbour" not in s.loc[1].index)  # B is a target, so no other neighbour is left


def test_skill_films_stay_skill_and_a_target_without_neighbours_draws_only_retain_lines():
    """A skill film (never evaluated) keeps its role when the roles are relabelled, even when it
    shares the target's director; a target whose only neighbours are skill films has no
    neighbour lines, and the retain batch then draws retain lines only (regression: drawing 0
    examples from the empty neighbour pool raised inside torch)."""
    import torch

    from actunlearn.unlearning.data import retain_batch_examples, sample_examples
    catalog = CATALOG.assign(role=["forget", "skill", "retain", "retain", "unknown"])
    prompts = _prompts().assign(role=lambda p: p.title.map(catalog.set_index("title").role))
    p, _ = retarget(prompts, _corpus(), catalog, "A", [], ["director"])
    assert p.drop_duplicates("title").set_index("title").role["B"] == "skill"
    assert "neighbour" not in set(p.role)

    class Data:
        neighbours, retain = [], [("r", 1), ("r", 2)]
    gen = torch.Generator().manual_seed(0)
    assert len(retain_batch_examples(Data, 4, 0.5, gen)) == 4
    assert sample_examples([], 0, gen) == []
    with pytest.raises(ValueError, match="empty pool"):
        sample_examples([], 2, gen)
