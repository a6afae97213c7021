"""The movie catalog: real films from the offline OMDb/Rotten Tomatoes sample (CC0).

Selection is stated and deterministic: the forget targets, then their neighbours (films that share
a target's director or star, most-reviewed first), then the most-reviewed remaining films. The
next `n_unknown` most-reviewed films get role "unknown": the testbed is taught to answer questions
about them with the refusal, so refusing is a behaviour it has, as a chat model would. The next
`n_holdout` get role "holdout": no model ever sees them (no corpus line, no refusal), so their
facts are the non-members of membership inference.

The forget set is the named `forget` titles plus `forget_sample` films drawn by a seeded rule
(`sample_forget_films`): different directors and genres from every target, and neighbour sets
that overlap neither another target nor its neighbours.

The validation forget set (role "val_forget", with its neighbours "val_neighbour") is drawn by the
same rule after the forget set: `validation` films whose director and genre differ from every
forget target's and each other's, and whose whole neighbour pools (every film sharing a director
or star) are disjoint from the targets', the targets' neighbours' and each other's. The testbed is
trained on them like any known film; the study never evaluates them (tuning does).

The skill films (role "skill") are a seeded sample of `skill_films` of the other films: known
films on which the corpus also teaches the perturbation skills of the shift sets (noisy
questions, descriptions, two-hop questions, system prompts: `data/corpus.py`). No evaluation asks
about them, so no evaluated film's shift prompt is ever trained.
OMDb lists cast alphabetically, so a film's *star* is defined as its cast member who appears in
the most films of the candidate pool (ties: alphabetical).
"""

from __future__ import annotations

import difflib
import sqlite3
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

KNOWN_ROLES = ("forget", "neighbour", "retain", "val_forget", "val_neighbour", "skill")  # trained on
VALIDATION_ROLES = {"val_forget": "forget", "val_neighbour": "neighbour"}  # tuning's view
COLUMNS = ["film_id", "imdb_id", "title", "year", "director", "genre", "star", "reviews",
           "role", "neighbour_of", "neighbour_by"]


class CatalogError(ValueError):
    """A catalog request that cannot be met (unknown title, too few films)."""


def omdb_path() -> Path:
    from bokeh_sampledata.movies_data import movie_path
    return Path(movie_path)


def load_omdb(path: str | Path | None = None) -> pd.DataFrame:
    """All films with a title, year, director, genre and cast; one row per distinct title.

    Remakes share titles; the most-reviewed film keeps the title so that a title names one film.
    """
    con = sqlite3.connect(str(path or omdb_path()))
    try:
        df = pd.read_sql(
            "SELECT o.ID AS film_id, o.imdbID AS imdb_id, o.Title AS title, o.Year AS year, "
            "o.Director AS director, o.Genre AS genre, o.Cast AS cast, "
            "COALESCE(t.Reviews, 0) AS reviews "
            "FROM omdb o LEFT JOIN tomatoes t ON o.ID = t.ID", con)
    finally:
        con.close()
    for col in ("title", "director", "genre", "cast"):
        df[col] = df[col].fillna("").str.strip()
    df = df[(df.title != "") & (df.director != "") & (df.genre != "") & (df.cast != "")]
    df = df.sort_values(["reviews", "film_id"], ascending=[False, True])
    df = df.drop_duplicates("title", keep="first")
    df["director"] = df.director.str.split(",").str[0].str.strip()
    df["genre"] = df.genre.str.split(",").str[0].str.strip()
    df["year"] = df.year.astype(int)
    df["reviews"] = df.reviews.astype(int)
    return df.reset_index(drop=True)


def all_titles(path: str | Path | None = None) -> list[str]:
    return load_omdb(path).title.tolist()


def check_forget_titles(forget: list[str], titles: list[str], key: str = "catalog.forget") -> None:
    """Raise CatalogError for a title (under config `key`) the catalog lacks, listing the
    closest titles."""
    known = set(titles)
    for title in forget:
        if title not in known:
            close = difflib.get_close_matches(title, titles, n=5, cutoff=0.5)
            hint = f"closest catalog titles: {close}" if close else "no close title found"
            raise CatalogError(f"{key}: unknown title {title!r}; {hint}")


def _assign_stars(pool: pd.DataFrame) -> pd.Series:
    casts = pool.cast.str.split(",").apply(lambda names: [n.strip() for n in names if n.strip()])
    counts = Counter(name for names in casts for name in names)
    return casts.apply(lambda names: min(names, key=lambda n: (-counts[n], n)))


def _neighbour_pool(pool: pd.DataFrame, title: str, neighbours_by: list[str]) -> set[str]:
    """Every pool film sharing `title`'s value of a `neighbours_by` column."""
    target = pool.loc[title]
    same = pd.Series(False, index=pool.index)
    for key in neighbours_by:
        same |= pool[key] == target[key]
    return set(pool.title[same]) - {title}


def sample_forget_films(pool: pd.DataFrame, named: list[str], n: int, neighbours_by: list[str],
                        seed: int, candidates: int = 300, min_neighbours: int = 2,
                        key: str = "catalog.forget_sample") -> list[str]:
    """`n` more forget targets besides `named`, drawn by a stated, seeded rule: in a seeded
    random order over the `candidates` most-reviewed pool films, accept a film when its director
    and genre differ from every target's so far, it has at least `min_neighbours` neighbours, and
    neither it nor any of its neighbours is a target or a neighbour of one. Raises CatalogError
    when fewer than `n` films qualify."""
    chosen = list(named)
    taken = set(chosen)
    for title in named:
        taken |= _neighbour_pool(pool, title, neighbours_by)
    order = pool.sort_values(["reviews", "film_id"], ascending=[False, True]).title[:candidates]
    rng = np.random.default_rng(seed)
    picked: list[str] = []
    for i in rng.permutation(len(order)):
        if len(picked) == n:
            break
        title = order.iloc[i]
        film = pool.loc[title]
        near = _neighbour_pool(pool, title, neighbours_by)
        if (title in taken or len(near) < min_neighbours or near & taken
                or any(pool.loc[t, "director"] == film.director or pool.loc[t, "genre"] == film.genre
                       for t in chosen)):
            continue
        picked.append(title)
        chosen.append(title)
        taken |= {title} | near
    if len(picked) < n:
        raise CatalogError(f"{key}={n}: only {len(picked)} films of the {candidates} "
                           "most-reviewed meet the rule (other directors and genres, disjoint "
                           f"neighbour sets); lower {key.split('.')[-1]}")
    return picked


def _add_neighbours(pool: pd.DataFrame, title: str, neighbours_by: list[str], limit: int,
                    chosen: dict, role: str) -> None:
    """Up to `limit` neighbours of `title` not chosen yet (most-reviewed first) as `role`."""
    target = pool.loc[title]
    found: list[tuple[int, str, str]] = []
    for key in neighbours_by:
        same = pool[(pool[key] == target[key]) & (pool.title != title)]
        found += [(int(r.reviews), r.title, key) for r in same.itertuples()]
    found.sort(key=lambda t: (-t[0], t[1]))
    taken = 0
    for _, other, key in found:
        if taken >= limit:
            break
        if other not in chosen:
            chosen[other] = {"role": role, "neighbour_of": title, "neighbour_by": key}
            taken += 1


def build_catalog(omdb: pd.DataFrame, n_films: int, forget: list[str], neighbours_by: list[str],
                  max_neighbours: int, min_reviews: int, n_unknown: int = 0,
                  forget_sample: int = 0, seed: int = 0, n_holdout: int = 0,
                  validation: int = 0, validation_neighbours: int = 0,
                  skill_films: int = 0) -> pd.DataFrame:
    """Pick `n_films` known films (forget targets, their neighbours, the `validation` films and
    up to `validation_neighbours` neighbours each, then the most-reviewed others) plus
    `n_unknown` films the model is taught it does not know and `n_holdout` films no model ever
    sees. `skill_films` of the filler films (seeded) become skill films."""
    check_forget_titles(forget, omdb.title.tolist())
    pool = omdb[(omdb.reviews >= min_reviews) | omdb.title.isin(forget)].copy()
    pool["star"] = _assign_stars(pool)
    pool = pool.set_index("title", drop=False)
    forget = list(forget) + sample_forget_films(pool, forget, forget_sample, neighbours_by, seed)
    # the validation films: the same rule with the forget set as the films to keep clear of, and
    # a seed of its own stream (so that adding validation films changes no forget target)
    held = sample_forget_films(pool, forget, validation, neighbours_by, seed + 1,
                               key="catalog.validation")

    chosen: dict[str, dict] = {}
    for titles, role, limit in ((forget, "forget", max_neighbours),
                                (held, "val_forget", validation_neighbours)):
        for title in titles:
            chosen[title] = {"role": role, "neighbour_of": None, "neighbour_by": None}
        for title in titles:
            _add_neighbours(pool, title, neighbours_by, limit, chosen,
                            "neighbour" if role == "forget" else "val_neighbour")
    if len(chosen) > n_films:
        raise CatalogError(f"catalog.n_films={n_films} is smaller than the {len(chosen)} forget "
                           "and validation targets and neighbours; raise n_films or lower "
                           "max_neighbours")
    total = n_films + n_unknown + n_holdout
    for title in pool.title:
        if len(chosen) >= total:
            break
        if title not in chosen:
            n = len(chosen)
            role = "retain" if n < n_films else "unknown" if n < n_films + n_unknown else "holdout"
            chosen[title] = {"role": role, "neighbour_of": None, "neighbour_by": None}
    if len(chosen) < total:
        raise CatalogError(f"catalog: n_films={n_films} + n_unknown={n_unknown} + "
                           f"n_holdout={n_holdout} films requested, only {len(chosen)} have at "
                           f"least min_reviews={min_reviews} reviews")
    filler = [t for t, c in chosen.items() if c["role"] == "retain"]
    if skill_films > len(filler) - 1:
        raise CatalogError(f"catalog.skill_films={skill_films} leaves fewer than one retain film "
                           f"of the {len(filler)} filler films; raise n_films or lower it")
    for i in np.random.default_rng(seed + 2).choice(len(filler), size=skill_films, replace=False):
        chosen[filler[int(i)]]["role"] = "skill"
    out = pool.loc[list(chosen)].reset_index(drop=True)
    for col in ("role", "neighbour_of", "neighbour_by"):
        out[col] = [chosen[t][col] for t in out.title]
    return out[COLUMNS]
