"""Harvest: keep your factories alive by mining ice with robots you build (Lux AI Season 2 rules).

=====================  ==============================================================
Import                 ``from spawnzoo.envs import harvest_v0``
Actions                Discrete(14), masked per agent (robots 0-11, factories 0/12/13)
Parallel API           yes (AEC through ``harvest_v0.env()``)
Manual control         no
Agents                 ``player_{p}_factory_{i}``, ``player_{p}_{light,heavy}_{j}``
Agents alive           2-10 factories at reset, then up to ``robot_slots`` robots per player
``possible_agents``    players x (max factories + 2 x robot ID pool), e.g. 10 + 640 at 48x48, 2p
Observation shape      ``observation`` (17 x 11 x 11 + 12,) float32, ``action_mask`` (14,) int8
Observation values     [-1, 1]
State shape            (18, map_size, map_size) float32
Batched core           ``spawnzoo.envs.make_batched("harvest-v0", num_envs=64)``
=====================  ==============================================================

**Description.** A square map holds ice, ore and rubble. Each player starts with 2 to 5 factories
(Lux v2.2.0, the paper's version; ``lux_version="3.0.1"`` gives 4 to 10; below 48 x 48 the range
scales with map area) that drink one water per step and die when their water runs out. Factories
build light and heavy robots; robots move, dig ice, carry it back and transfer it into a factory,
which refines 4 ice into 1 water. With ``players=1`` the task is the paper's cooperative survival:
keep factories alive until ``max_cycles``. With ``players=2`` both players play on a mirrored map
(self-play). The numbers are Lux AI Season 2's (``luxai_s2`` v2.2.0; 3.0.1 only differs in the
factory count), kept in ``HarvestConfig``; every remaining difference from Lux is listed, with the
setting that controls it, in ``docs/lux-parity.md``.

**Map and factories.** Rubble is smooth noise in [0, 100]; ice (2% of tiles) and ore (1.5%) lie in
random-walk clusters of 2-6 tiles that keep a fifth of the rubble. With two players the map is
mirrored across a random axis. Factory centres must leave the 3x3 footprint on the map, off ice and
ore, and more than 6 tiles (Manhattan, as Lux; ``factory_spacing``, ``factory_min_distance``) from
other factories. There is no bidding: every factory gets 150 water and 150 metal (Lux with both
bids 0). ``placement="heuristic"`` (the default, a simplified form of the paper's rule) picks, one
factory at a time, the centre with the best score
``10 log(ice touching the footprint + 0.001) + log(ice density within 3)``
``+ 0.1 log(ore density within 3) - 0.025 mean rubble within 3``; ``placement="paper"`` (the
``paper`` preset) is the paper's rule: Gaussian-smoothed ice, ore, rubble and own-factory maps, a
centre sampled from the softmax of the 200 best scores, then hill-climbed (see ``mapgen``);
``placement="random"`` picks uniformly among valid centres. With two players, player 0 places on
its half and player 1 gets the mirror image. On a map so crowded with ice and ore that no valid
centre is left at distance 3, footprints may cover resource tiles, which are then cleared (the
config caps the factory count at what always fits, so placement never fails).

**Spawning and death.** Every factory and robot is an agent. A factory builds a robot on its centre
tile when the centre is free; the robot is a new agent with a fresh name from a finite pool
(``robot_ids_per_class`` names per player and class); once a pool or the player's robot slots are
used up, building that class is masked. Robots die in collisions; factories die when their water
goes below zero (leaving 50 rubble on each tile; a robot destroyed on a factory tile in that step
adds its own, as Lux clears rubble under factories only at the end of the step). A dying agent
appears in that step's dicts with ``terminations[agent] = True`` and leaves ``agents``; names are
never reused within an episode. A robot destroyed in the very step it is built (something moved onto
the factory centre), or built in the episode's last step, never becomes an agent (it never acts).

**Rules of one step** (Lux S2 order): digs; builds; moves and collisions; transfers (targets looked
up after moving; a transfer with no target there loses the cargo); power pickups; factories
refine (up to 100 ice -> water at 4:1, up to 50 ore -> metal at 5:1), drink 1 water and may die;
robots charge by day (``step % 50 < 30``), factories gain 50 power.

* Light robot: costs 10 metal + 50 power; battery 150 (starts at 50); cargo 100; charges 1 per
  day step; a move costs ``floor(1 + 0.05 x rubble)``; a dig costs 5 and gives 2 ice/ore or
  removes 2 rubble.
* Heavy robot: costs 100 metal + 500 power; battery 3000 (starts at 500); cargo 1000; charges 10;
  a move costs ``20 + rubble``; a dig costs 60 and gives 20 ice/ore or removes 20 rubble.
* A dig on a tile with rubble removes rubble first; ice and ore can be dug once it is clear.
* Collisions, as ``luxai_s2`` resolves them (own robots collide too): on a tile where several
  heavies moved in, the one with most power survives and loses half (rounded up) of the
  runner-up's power, a tie destroys all; a single heavy that moved in survives unharmed; else a
  single stationary heavy survives; else among lights, the same rules. Everyone else on the tile
  is destroyed and leaves rubble (1 light, 10 heavy). (In a fight of three or more robots Lux
  picks the runner-up in an order-dependent way; we use the true runner-up.)

**Actions** (one ``Discrete(14)`` for every agent; the mask in the observation says what is legal):

==  =================  =====================================================================
0   idle               always legal (robots: stand still / recharge; factories: do nothing)
1-4 move N/E/S/W       robots: target on the map, not an enemy factory, enough power
5   dig                robots: tile has rubble, ice or ore, not a factory tile, enough power
6   transfer centre    robots with ice/ore: all cargo into the own factory underneath
7-10 transfer N/E/S/W  robots with ice/ore: all cargo into the own factory or own robot there
11  pickup power       robots on an own factory, battery not full: fill the battery from it
                       (several robots on one factory are served oldest first, as Lux)
12  build light        factories: >= 10 metal, >= 50 power, centre free, pool and slot left
13  build heavy        factories: >= 100 metal, >= 500 power, centre free, pool and slot left
==  =================  =====================================================================

With ``action_masks="paper"`` (the ``paper`` preset) the masks are the paper's: no move onto an own
robot or onto a factory centre, and of several own robots moving onto one tile only the oldest moves
(no own collisions); transfers only into own factories; a factory that can build a heavy robot may
not idle. A masked action runs as ``idle`` and sets ``infos[agent]["illegal_action"]`` (or raises
``ValueError`` with ``strict=True``). An unknown or dead agent, or an action outside ``[0, 14)``,
raises ``ValueError`` naming it, and nothing in the world changes. Actions are per step (Lux's
action queues, their power cost, lichen and self-destruct are not modelled).

**Factorised actions** (the paper's heads, §2.3): the batched core also offers the 14 actions as
an action type (robots: ``move, transfer, pickup, dig, self_destruct, recharge, idle``;
factories: ``build_light, build_heavy, water, idle``) and a direction (0 centre, 1-4 N/E/S/W):
``world.action_factors`` maps each flat action to its (robot type, direction, factory type),
``world.factored_mask()`` gives the legal ``type [E, S, 7]`` and ``direction [E, S, 7, 5]``, and
``compose_action(type, direction, kind)`` of ``spawnzoo.envs.harvest.world`` gives the flat
actions back. Self-destruct,
recharge and water are never legal; resource, amount and repeat have one value each (all cargo,
a full battery, no queue). The hybrid's factorised heads sample from this view.

**Observations.** ``observation`` is the egocentric ``K x K`` window (``K = 2 obs_radius + 1``)
of the owner's planes around the agent, flattened plane by plane (17 planes: the 16 spatial
planes below and ``off_map``), followed by 12 own features (``is_factory, is_light, is_heavy,
power, ice, ore, water, metal, x, y, step, day``). ``state()`` is the 18 global planes of the
paper's feature table and code from player 0's side: ``step, day, own_factory, ice, ore, rubble,
own_robot, enemy, robot_heavy, robot_power, robot_ice, robot_ore, factory_power, factory_ice,
factory_water, factory_ore, factory_metal, factory_water_cost`` (the water a lichen watering
would cost, ``lichen tiles // 10 + 1``; always 1 here, as harvest has no lichen). Flags are 0/1;
quantities are min-max scaled to [-1, 1] (robot power and cargo by the class's capacity, factory
values by 3000 power / 1000 cargo, written at the factory centre) and read -1 where there is no
entity. ``infos[agent]`` holds numbers only: ``cell`` (x, y), ``kind`` (an index into
``env.kind_names``), ``owner`` (an index into ``env.owner_names``) and ``illegal_action``;
``env.kind_of(agent)`` and ``env.owner_of(agent)`` give the names.

**Rewards** (the paper's hybrid reward, weights in ``HarvestConfig``): 1 per 4 ice transferred
into a factory, split half to the delivering robot and half to the factory; 0.1 per 4 ice dug, to
the robot; all multiplied by ``1 + 0.1 x (1000 - step) / 1000``. Optional penalties for destroyed
robots and factories (0 by default).

**Episode end.** A player whose factories are all gone has lost. With one player the episode
terminates when no factory is left; with two, when at most one player has factories. At
``max_cycles`` every live agent is truncated. When the episode ends, each agent's
``infos[agent]["episode"]`` holds its player's metrics: ``episode_length``, ``ice_transferred``,
``ice_dug``, ``avg_factories_alive`` (sum over steps of live factories / ``max_cycles``),
``robots_built``, ``robots_lost``, ``factories_lost``, ``illegal_actions``. A ``step`` after the
end raises ``RuntimeError`` (call ``reset()``).

**Arguments.** ``harvest_v0.parallel_env(*, preset=None, render_mode=None, strict=False,
config=None, **settings)``: ``preset`` is ``"paper"`` (48 x 48, two players, Lux v2.2.0, the paper's
placement and masks, ``max_cycles=256``; evaluate at 1000), ``"small"`` (24 x 24) or ``"tiny"`` (12
x 12, tests); ``settings`` are any ``HarvestConfig`` field, e.g. ``players=2``, ``map_size=64``,
``max_cycles=1000``, ``placement="random"``. Every argument is checked when the env is built: a
setting of the wrong type, NaN, infinite or out of its range raises ``ValueError`` naming it and
what it accepts (the ranges are in ``HarvestConfig``'s field docstrings: e.g. densities at most 0.5,
rates and amounts at least 0, ``map_size`` 8 to 1024), and nothing is built.

**Version history.** v0: first release. Within v0 (issue 25, Lux parity): power pickups in
creation order, rubble under a factory that dies in the step, Manhattan factory spacing,
``lux_version``, ``placement="paper"``, ``action_masks``, the 18th plane ``factory_water_cost``.
"""

from __future__ import annotations

from typing import Any

from gymnasium.utils import EzPickle
from pettingzoo.utils import parallel_to_aec

from ..core.parallel import SlotParallelEnv
from .config import HarvestConfig, make_config
from .world import HarvestWorld


class HarvestEnv(SlotParallelEnv, EzPickle):
    """The PettingZoo parallel env of harvest-v0 (see the module docstring)."""

    metadata = {
        "name": "harvest_v0",
        "render_modes": ["human", "rgb_array"],
        "render_fps": 10,
        "is_parallelizable": True,
    }

    def __init__(
        self,
        *,
        preset: str | None = None,
        render_mode: str | None = None,
        strict: bool = False,
        config: HarvestConfig | None = None,
        **settings: Any,
    ):
        EzPickle.__init__(
            self, preset=preset, render_mode=render_mode, strict=strict, config=config, **settings
        )
        self.config = make_config(config, preset, **settings)
        world = HarvestWorld(self.config, num_envs=1, auto_reset=False)
        super().__init__(
            world, obs_radius=self.config.obs_radius, render_mode=render_mode, strict=strict
        )

    def _make_renderer(self):
        from .render import HarvestRenderer

        return HarvestRenderer(fps=self.metadata["render_fps"])


def parallel_env(**kwargs: Any) -> HarvestEnv:
    """The parallel env; keyword arguments as ``HarvestEnv``."""
    return HarvestEnv(**kwargs)


def raw_env(**kwargs: Any):
    """The AEC env (``parallel_to_aec`` of the parallel env)."""
    return parallel_to_aec(HarvestEnv(**kwargs))


env = raw_env
