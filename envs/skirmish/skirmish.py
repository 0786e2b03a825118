"""Skirmish: two teams build units at their bases and fight over capture points and bases.

=====================  ==============================================================
Import                 ``from spawnzoo.envs import skirmish_v0``
Actions                Discrete(11), masked per agent (units 0-8, bases 0/9/10)
Parallel API           yes (AEC through ``skirmish_v0.env()``)
Manual control         no
Agents                 ``player_{p}_base_{i}``, ``player_{p}_{melee,ranged}_{j}``
Agents alive           2-6 bases at reset, then up to ``unit_slots`` units per team
``possible_agents``    2 x (bases + 2 x unit ID pool): 98 on tiny, 196 small, 518 large
Observation shape      ``observation`` (12 x K x K + 10,) float32, ``action_mask`` (11,) int8
Observation values     [-1, 1]
State shape            (16, map_size, map_size) float32
Batched core           ``spawnzoo.envs.make_batched("skirmish-v0", num_envs=64)``
=====================  ==============================================================

**Description.** A competitive two-team game on a square grid with rock. Each team (``player_0``,
``player_1``) starts with one to three bases and some resources. Bases spend resources to build
melee and ranged units; units move, attack enemy units and bases, and hold capture points, which
pay income and points. A team wins by destroying every enemy base, or by having more points when
the time runs out. Both teams play by the same rules on a mirror-symmetric map, so one policy can
play both sides (self-play is the learner's business).

**Map.** Each map draws a symmetry from its seed: a half-turn about the map centre, a left-right
mirror or a top-bottom mirror. Player 0's half is drawn and player 1's half is its image. Rock
(6% of cells, small clusters) is impassable and blocks attacks. Bases sit in the back quarter of
their half, away from the border and from each other (``base_min_distance``); capture points come
in mirrored pairs towards the middle, each with a rock-free zone of Chebyshev radius
``capture_radius`` (a 3 x 3 square). Every base and capture point is reachable from every other.

**Spawning and death.** Every base and unit is an agent. A base builds a unit when its team can
pay for it (melee 10, ranged 15 resources), a neighbouring cell is free, the team has a free
unit slot (``unit_slots_per_player``, by default ``map_size`` units alive at once) and the
class's pool of names (twice the slots) is not used up. The unit appears on the first free of
the base's four neighbours, in the order N, E, S, W for player 0 and its mirror image for player
1, with a fresh name (``player_1_ranged_7`` is player 1's 8th ranged unit this episode); names
are never reused within an episode. Units and bases die when their hit points reach 0 and leave
their cell at once. A dying agent appears in that step's dicts with ``terminations[agent] =
True`` and leaves ``agents``. A unit built in the episode's last step never becomes an agent.

**Rules of one step** (all agents act at once):

1. Attacks. ``attack d`` hits the first entity along direction ``d`` within the unit's range
   (melee 1, ranged 3) if it is an enemy; rock and any entity stop the line. Damage (melee 3,
   ranged 2) is computed from the positions at the start of the step and summed per target, so
   two units can kill each other in the same step. Entities at 0 hit points (melee 12, ranged 7,
   bases 60; 30 on ``tiny``) die and free their cells.
2. Builds. Each building base pays and places its unit; when a team's bases together ask for more
   than it has, they are paid in slot order and the rest build nothing.
3. Moves, at once. A move to a cell wanted by another unit bounces (both stay), two units that
   would swap cells both stay, and a unit whose target cell stays occupied (by a unit that does
   not move away or whose own move bounced, or by a unit built this step) stays; longer cycles
   of moves all succeed. Moves into rock, bases or off the map are masked.
4. Capture. A capture point is held by a team that has a unit in its zone while the enemy has
   none. Each team gains 1 point per point held, 2 per enemy unit and 20 per enemy base
   destroyed this step, and 1 resource per step while it has a base plus 1 per point held
   (banked up to 200).
5. End. A team without bases loses and the episode terminates (if both lose their last base in
   the same step, points decide). At ``max_cycles`` the episode is truncated and the team with
   more points wins; equal points are a draw.

**Actions** (one ``Discrete(11)`` for every agent; the mask in the observation says what is legal):

==  =================  =====================================================================
0   idle               always legal
1-4 move N/E/S/W       units: target on the map, not rock, not a base
5-8 attack N/E/S/W     units: the first entity along that direction within range is an enemy
9   build melee        bases: affordable, a free neighbouring cell, a free unit slot and name
10  build ranged       bases: the same for a ranged unit
==  =================  =====================================================================

A masked action runs as ``idle`` and sets ``infos[agent]["illegal_action"]`` (or raises
``ValueError`` with ``strict=True``). An unknown or dead agent, or an action outside ``[0, 11)``,
raises ``ValueError`` naming it, and nothing in the world changes.

**Observations.** ``observation`` is the egocentric ``K x K`` window (``K = 2 obs_radius + 1``;
``obs_radius`` is 3 on ``tiny``, 4 on ``small``, 5 on ``large``) of the owner's planes around the
agent, flattened plane by plane (12 planes: the 11 spatial planes below and ``off_map``), followed
by 10 own features (``is_base, is_melee, is_ranged, hp, x, y, step, own_resources, own_points,
enemy_points``). ``state()`` is the 16 global planes from player 0's side: ``step, own_resources,
enemy_resources, own_points, enemy_points`` (one value over the map) and ``rock, capture_zone,
capture_own, capture_enemy, own_base, enemy_base, own_melee, own_ranged, enemy_melee, enemy_ranged,
hp``. Planes are in map coordinates for both players (not mirrored); ``own`` and ``enemy`` swap
between them. Flags are 0/1; quantities are min-max scaled to [-1, 1] (hit points by the entity's
maximum, resources by 200, points by ``points_scale``: 200 on ``tiny``, 500 on ``small``, 2000 on
``large``; the step by ``max_cycles``) and read -1 where there is no entity. ``infos[agent]`` holds
numbers only: ``cell`` (x, y), ``kind`` (an index into ``env.kind_names``), ``owner`` (an index into
``env.owner_names``) and ``illegal_action``; ``env.kind_of(agent)`` and ``env.owner_of(agent)`` give
the names.

**Rewards** (weights in ``SkirmishConfig``): 0.02 per hit point of damage dealt, to the attacker;
0.2 for a unit and 1 for a base to every attacker that hit it in the step it died; 0.01 per step
to each unit standing in a zone its team holds; 0.01 per point the team gained that step, to each
of its bases; at the end +1 to every agent of the winner and -1 to every agent of the loser that
acted in the last step (0 on a draw). ``reward_death`` (0 by default) is added when an agent
dies.

**Episode end.** See rule 5. When the episode ends, each agent's ``infos[agent]["episode"]``
holds its team's metrics: ``episode_length``, ``win`` (1, 0 or 0.5), ``points``,
``units_built``, ``units_lost``, ``bases_alive``, ``bases_lost``, ``capture_points_held`` (at
the end), ``capture_steps`` (points held, summed over steps), ``kills``, ``damage_dealt``,
``illegal_actions``. A ``step`` after the end raises ``RuntimeError`` (call ``reset()``).

**Scripted policies.** ``heuristic``: bases build a melee unit whenever they can (and save up
for a ranged one when the team has at least twice as many melee), units attack the weakest enemy
in reach, else stay in a capture zone they hold alone, else walk towards the nearest enemy
within 3 cells, else the nearest capture point their team does not hold, else the nearest enemy
base. It is the scripted opponent learners are evaluated against. Against ``random``
(``spawnzoo.envs.skirmish.policies.play_match``, 10 worlds, reset seed 3) it won 50 of 50
episodes as player 0 and 50 of 50 as player 1 on ``tiny`` (destroying the enemy base in about
40 steps) and on ``small`` (about 100 steps), and 20 of 20 from either side on ``large``.
Against itself it is even: 25 / 20 wins and 5 draws over 50 ``tiny`` episodes. To watch it
beat ``random``: ``spawnzoo render --env skirmish-v0 --preset small --policy
spawnzoo.envs.skirmish.policies:HeuristicVsRandom --out runs/s.gif``.

**Arguments.** ``skirmish_v0.parallel_env(*, preset=None, render_mode=None, strict=False,
config=None, **settings)``: ``preset`` is ``"tiny"`` (12 x 12, one base, two capture points,
``max_cycles=100``; evaluate at 200), ``"small"`` (24 x 24, two bases, four capture points, 200;
400) or ``"large"`` (64 x 64, three bases, eight capture points, 500; 1000); ``settings`` are any
``SkirmishConfig`` field, e.g. ``map_size=32``, ``max_cycles=300``, ``rock_density=0``. Every
argument is checked when the env is built: a setting of the wrong type, NaN, infinite or out of
its range raises ``ValueError`` naming it and what it accepts (the ranges are in
``SkirmishConfig``'s field docstrings: e.g. ``rock_density`` at most 0.3, ``resource_cap`` and
hit points at least 1, even ``map_size`` 8 to 1024), and nothing is built. Bases and capture
points that fit by area but not by the placement distances make ``reset`` raise ``NoRoomError``
(a ``RuntimeError``) naming the settings to change.

**Version history.** v0: first release.
"""

from __future__ import annotations

from typing import Any

from gymnasium.utils import EzPickle
from pettingzoo.utils import parallel_to_aec

from ..core.parallel import SlotParallelEnv
from .config import SkirmishConfig, make_config
from .world import SkirmishWorld


class SkirmishEnv(SlotParallelEnv, EzPickle):
    """The PettingZoo parallel env of skirmish-v0 (see the module docstring)."""

    metadata = {
        "name": "skirmish_v0",
        "render_modes": ["human", "rgb_array"],
        "render_fps": 8,
        "is_parallelizable": True,
    }

    def __init__(
        self,
        *,
        preset: str | None = None,
        render_mode: str | None = None,
        strict: bool = False,
        config: SkirmishConfig | None = None,
        **settings: Any,
    ):
        EzPickle.__init__(
            self, preset=preset, render_mode=render_mode, strict=strict, config=config, **settings
        )
        self.config = make_config(config, preset, **settings)
        world = SkirmishWorld(self.config, num_envs=1, auto_reset=False)
        super().__init__(
            world, obs_radius=self.config.obs_radius, render_mode=render_mode, strict=strict
        )

    def _make_renderer(self):
        from .render import SkirmishRenderer

        return SkirmishRenderer(fps=self.metadata["render_fps"])


def parallel_env(**kwargs: Any) -> SkirmishEnv:
    """The parallel env; keyword arguments as ``SkirmishEnv``."""
    return SkirmishEnv(**kwargs)


def raw_env(**kwargs: Any):
    """The AEC env (``parallel_to_aec`` of the parallel env)."""
    return parallel_to_aec(SkirmishEnv(**kwargs))


env = raw_env
