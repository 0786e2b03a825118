"""The paper's hybrid ablations (the paper, §3.5-3.6) as config variants, and
its tables with its numbers, for ``spawnzoo compare --suite paper``.

A suite is one method plus named variants (config fields over the method's defaults) and
tables: each table row names a variant and carries the paper's numbers for it, so the report
can put our measurement beside the paper's in the paper's layout. Rows of different tables that
the paper reports with identical numbers are the same run there and share one variant here
(e.g. "1 unit group" = "separate factories, global units"; "0% own reward" = "global reward").

The paper's numbers are from its 48x48 map with 1000-step evaluation episodes, 102,400 env
steps and the 32-wide network; the values only compare at that scale (``--preset paper``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PaperRow:
    """One row of a paper table.

    Attributes:
        name: the paper's row name. variant: the variant key that reproduces it.
        ice: ice transferred per player-episode, mean (std). length: episode length, mean (std).
        full_10: env steps to 10% full-length evaluation episodes ("–": never).
        full_95: likewise for 95%.
    """

    name: str
    variant: str
    ice: str
    length: str
    full_10: str
    full_95: str


@dataclass(frozen=True)
class PaperTable:
    """A paper table: its title, the section it comes from, and its rows."""

    title: str
    section: str
    rows: tuple[PaperRow, ...]


@dataclass(frozen=True)
class Suite:
    """A method and its named variants (config fields), with the tables they fill."""

    method: str
    variants: Mapping[str, Mapping[str, Any]]
    tables: tuple[PaperTable, ...]
    description: str


def _row(name: str, variant: str, ice: str, length: str, m10: str, m95: str) -> PaperRow:
    return PaperRow(name, variant, ice, length, m10, m95)


#: what every paper variant shares: the paper's code treats a truncated trajectory as terminal
PAPER_BASE: dict[str, Any] = {"truncation": "terminal"}

#: variant key -> HybridConfig fields (each over ``PAPER_BASE``)
_VARIANTS: dict[str, dict[str, Any]] = {
    "separate": {},
    "global-factories": {"grouping": "factories=global,robots=entity"},
    "global-units": {"grouping": "factories=entity,robots=global"},
    "global-factories-units": {"grouping": "factories=global,robots=global"},
    "global": {"grouping": "global"},
    **{f"random-groups-{n}": {"grouping": f"random:{n}"} for n in (2, 4, 8, 16)},
    "quadrant": {"grouping": "quadrant"},
    "nearest-factory": {"grouping": "nearest_factory"},
    "nearest-heavy": {"grouping": "nearest_heavy"},
    "top1-abs-advantage": {"top_n": 1, "top_n_by": "abs_advantage"},
    "top1-return": {"top_n": 1, "top_n_by": "return"},
    **{f"top{n}-advantage": {"top_n": n, "top_n_by": "advantage"} for n in (1, 2, 4, 8, 16)},
    **{f"sample-random-{n}": {"top_n": n, "top_n_by": "random"} for n in (1, 2, 4, 8, 16)},
    "own-reward-0.75": {"own_reward_weight": 0.75},
    "own-reward-0.5": {"own_reward_weight": 0.5},
    "global-reward": {"own_reward_weight": 0.0},
    **{
        f"global-{c}": {"globalise": (c,)}
        for c in ("critic", "advantage", "dones", "logprob", "entropy")
    },
    # §3.7 model ablations
    "no-extra-hidden-scaling": {"scaled": "outputs"},
    "no-extra-scaling": {"weight_scale": 1.0},
    "no-actor-scaling": {"scaled": "critic"},
    "no-value-scaling": {"scaled": "actor"},
    "no-scaling": {"scaled": "none"},
    "no-masking": {"action_masking": False},
    "random-placement": {"env_settings": {"placement": "random"}},
    "no-batch-norm": {"batch_norm": False},
    "no-spectral-norm": {"spectral_norm": False},
    "no-batch-norm-no-spectral-norm": {"batch_norm": False, "spectral_norm": False},
}
PAPER_VARIANTS: dict[str, dict[str, Any]] = {k: {**PAPER_BASE, **v} for k, v in _VARIANTS.items()}

_SEP = _row("separate trajectories", "separate", "44,472 (12,065)", "1,000 (0)", "28,672", "49,152")
_GLOBAL = _row("global trajectory", "global", "3,066 (2,996)", "466 (302)", "102,400", "–")
_ONE_GROUP = _row("1 unit group", "global-units", "3,573 (3,753)", "485 (315)", "98,304", "–")
_G4 = _row("4 unit groups", "random-groups-4", "29,459 (8,150)", "1,000 (0)", "36,864", "77,824")
_G8 = _row("8 unit groups", "random-groups-8", "32,049 (8,701)", "1,000 (0)", "32,768", "61,440")
_TOP1 = _row(
    "top 1 advantage", "top1-advantage", "38,072 (13,071)", "1,000 (0)", "32,768", "57,344"
)
_TOP4 = _row(
    "top 4 advantage", "top4-advantage", "43,246 (11,518)", "1,000 (0)", "28,672", "49,152"
)
_RND1 = _row("random 1", "sample-random-1", "2,550 (2,434)", "420 (269)", "77,824", "–")
_RND4 = _row("random 4", "sample-random-4", "17,927 (9,007)", "951 (160)", "45,056", "–")
_GREWARD = ("9,614 (8,094)", "763 (300)", "53,248", "–")

PAPER_TABLES: tuple[PaperTable, ...] = (
    PaperTable(
        "Global vs separated trajectories",
        "3.5",
        (
            _row(
                "separate trajectories for all entities",
                "separate",
                *(_SEP.ice, _SEP.length),
                _SEP.full_10,
                _SEP.full_95,
            ),
            _row(
                "global factories, separate units",
                "global-factories",
                "43,528 (11,327)",
                "1,000 (0)",
                "28,672",
                "49,152",
            ),
            _row(
                "separate factories, global units",
                "global-units",
                "3,573 (3,753)",
                "485 (315)",
                "98,304",
                "–",
            ),
            _row(
                "global factories, global units",
                "global-factories-units",
                "6,162 (4,413)",
                "742 (290)",
                "81,920",
                "–",
            ),
            _row(
                "single global trajectory", "global", "3,066 (2,996)", "466 (302)", "102,400", "–"
            ),
        ),
    ),
    PaperTable(
        "Number of random unit groups (factories separate)",
        "3.5",
        (
            _ONE_GROUP,
            _row("2 unit groups", "random-groups-2", "14,388 (7,019)", "967 (99)", "57,344", "–"),
            _G4,
            _G8,
            _row(
                "16 unit groups",
                "random-groups-16",
                "36,847 (8,224)",
                "1,000 (0)",
                "28,672",
                "57,344",
            ),
            _SEP,
        ),
    ),
    PaperTable(
        "Grouping rules",
        "3.5",
        (
            _GLOBAL,
            _G4,
            _G8,
            _row("map quadrants", "quadrant", "22,385 (8,733)", "1,000 (0)", "53,248", "98,304"),
            _row(
                "closest factory",
                "nearest-factory",
                "27,009 (8,420)",
                "1,000 (0)",
                "45,056",
                "94,208",
            ),
            _row(
                "closest heavy", "nearest-heavy", "35,224 (10,946)", "1,000 (0)", "36,864", "73,728"
            ),
            _SEP,
        ),
    ),
    PaperTable(
        "Train-sample reduction: selection metric (N = 1)",
        "3.5",
        (
            _row(
                "separate trajectories (all data)",
                "separate",
                _SEP.ice,
                _SEP.length,
                _SEP.full_10,
                _SEP.full_95,
            ),
            _TOP1,
            _row(
                "top 1 absolute advantage",
                "top1-abs-advantage",
                "33,926 (9,324)",
                "1,000 (0)",
                "32,768",
                "57,344",
            ),
            _row("top 1 return", "top1-return", "23,156 (10,369)", "968 (138)", "40,960", "–"),
            _RND1,
            _GLOBAL,
        ),
    ),
    PaperTable(
        "Top-N by advantage",
        "3.5",
        (
            _SEP,
            _TOP1,
            _row(
                "top 2 advantage",
                "top2-advantage",
                "40,053 (10,402)",
                "1,000 (0)",
                "24,576",
                "61,440",
            ),
            _TOP4,
            _row(
                "top 8 advantage",
                "top8-advantage",
                "41,855 (10,159)",
                "1,000 (0)",
                "28,672",
                "57,344",
            ),
            _row(
                "top 16 advantage",
                "top16-advantage",
                "42,433 (10,792)",
                "1,000 (0)",
                "24,576",
                "53,248",
            ),
            _GLOBAL,
        ),
    ),
    PaperTable(
        "Random-N sampling",
        "3.5",
        (
            _SEP,
            _row(
                "random 16", "sample-random-16", "37,665 (9,965)", "1,000 (0)", "32,768", "61,440"
            ),
            _row("random 8", "sample-random-8", "35,022 (8,492)", "1,000 (0)", "45,056", "69,632"),
            _RND4,
            _row("random 2", "sample-random-2", "4,284 (4,475)", "513 (317)", "77,824", "–"),
            _RND1,
            _GLOBAL,
        ),
    ),
    PaperTable(
        "Data quality vs quantity (grouping vs sampling, <= 1 or <= 4 examples per step)",
        "3.5",
        (
            _ONE_GROUP,
            _row(
                "random 1 samples",
                "sample-random-1",
                _RND1.ice,
                _RND1.length,
                _RND1.full_10,
                _RND1.full_95,
            ),
            _TOP1,
            _G4,
            _row(
                "random 4 samples",
                "sample-random-4",
                _RND4.ice,
                _RND4.length,
                _RND4.full_10,
                _RND4.full_95,
            ),
            _TOP4,
        ),
    ),
    PaperTable(
        "Components relevant to the advantage",
        "3.6",
        (
            _GLOBAL,
            _row("separate trajectories, global reward", "global-reward", *_GREWARD),
            _row(
                "separate trajectories, global critic",
                "global-critic",
                "30,687 (9,844)",
                "994 (34)",
                "40,960",
                "69,632",
            ),
            _row(
                "separate trajectories, global advantage",
                "global-advantage",
                "2,643 (3,353)",
                "380 (244)",
                "73,728",
                "–",
            ),
            _SEP,
        ),
    ),
    PaperTable(
        "Other components",
        "3.6",
        (
            _GLOBAL,
            _row(
                "separate trajectories, global dones",
                "global-dones",
                "47,201 (11,018)",
                "1,000 (0)",
                "28,672",
                "49,152",
            ),
            _row(
                "separate trajectories, global probabilities",
                "global-logprob",
                "3,673 (4,372)",
                "506 (345)",
                "98,304",
                "–",
            ),
            _row(
                "separate trajectories, global entropy",
                "global-entropy",
                "41,970 (10,305)",
                "1,000 (0)",
                "28,672",
                "53,248",
            ),
            _SEP,
        ),
    ),
    PaperTable(
        "Reward assignment (own / global share)",
        "3.6",
        (
            _row(
                "100% own, 0% global", "separate", _SEP.ice, _SEP.length, _SEP.full_10, _SEP.full_95
            ),
            _row(
                "75% own, 25% global",
                "own-reward-0.75",
                "33,985 (9,059)",
                "1,000 (0)",
                "28,672",
                "57,344",
            ),
            _row(
                "50% own, 50% global",
                "own-reward-0.5",
                "24,244 (11,238)",
                "992 (47)",
                "45,056",
                "94,208",
            ),
            _row("0% own, 100% global", "global-reward", *_GREWARD),
        ),
    ),
    PaperTable(
        "Weight initialisation",
        "3.7",
        (
            _row("control", "separate", _SEP.ice, _SEP.length, _SEP.full_10, _SEP.full_95),
            _row(
                "no extra hidden layer scaling",
                "no-extra-hidden-scaling",
                "17,093 (10,944)",
                "878 (247)",
                "32,768",
                "–",
            ),
            _row(
                "no extra scaling", "no-extra-scaling", "15,019 (8,371)", "892 (223)", "36,864", "–"
            ),
            _row(
                "no actor scaling", "no-actor-scaling", "1,255 (1,986)", "277 (215)", "45,056", "–"
            ),
            _row("no value scaling", "no-value-scaling", "591 (811)", "222 (116)", "–", "–"),
            _row("no scaling", "no-scaling", "145 (257)", "159 (17)", "–", "–"),
        ),
    ),
    PaperTable(
        "Heuristics",
        "3.7",
        (
            _row("control", "separate", _SEP.ice, _SEP.length, _SEP.full_10, _SEP.full_95),
            _row("no invalid action masking", "no-masking", "0 (0)", "151 (0)", "–", "–"),
            _row(
                "random factory placement", "random-placement", "316 (1,055)", "195 (137)", "–", "–"
            ),
        ),
    ),
    PaperTable(
        "Regularisation",
        "3.7",
        (
            _row("control", "separate", _SEP.ice, _SEP.length, _SEP.full_10, _SEP.full_95),
            _row("no batch norm", "no-batch-norm", "11,184 (12,688)", "646 (351)", "53,248", "–"),
            _row(
                "no spectral norm",
                "no-spectral-norm",
                "41,611 (10,938)",
                "1,000 (0)",
                "28,672",
                "45,056",
            ),
            _row(
                "no batch norm, no spectral norm",
                "no-batch-norm-no-spectral-norm",
                "3,696 (3,039)",
                "530 (282)",
                "65,536",
                "–",
            ),
        ),
    ),
)

#: suite name -> suite (``--suite paper``)
SUITES: dict[str, Suite] = {
    "paper": Suite(
        method="hybrid",
        variants=PAPER_VARIANTS,
        tables=PAPER_TABLES,
        description="the paper's hybrid ablations: grouping, random unit groups, grouping "
        "rules, top-N and random-N sampling, reward mix, globalised components, and the model "
        "ablations of §3.7 (weight scaling, masking, random placement, BatchNorm, spectral "
        "norm); every variant treats truncation as terminal, as the paper's code",
    ),
}
