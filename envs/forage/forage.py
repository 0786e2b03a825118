"""Forage: a colony eats regrowing food, splits when well fed, and dies of hunger or old age.

=====================  ==============================================================
Import                 ``from spawnzoo.envs import forage_v0``
Actions                Discrete(5), masked per agent (stay, move N/E/S/W)
Parallel API           yes (AEC through ``forage_v0.env()``)
Manual control         no
Agents                 ``player_{p}_forager_{n}``
Agents alive           ``initial_agents`` per player at reset, then 0 to ``agent_slots``
``possible_agents``    players x ``agent_ids_per_player``, e.g. 128 (tiny), 1024 (small)
Observation shape      ``observation`` (7 x 9 x 9 + 6,) float32, ``action_mask`` (5,) int8
Observation values     [-1, 1]
State shape            (7, map_size, map_size) float32
Batched core           ``spawnzoo.envs.make_batched("forage-v0", num_envs=64)``
=====================  ==============================================================

**Description.** A square grid holds fertile patches whose cells carry food (up to 10 units each)
that regrows a little every step. Every agent is a forager with an energy store: living costs
energy every step, moving costs a bit more, and an agent eats from the cell it stands on, turning
food into energy one to one. A forager that has eaten enough splits in two; one that runs out of
energy, or grows too old, dies. With ``players=1`` (the default) the whole colony is one
cooperative team: the task is to keep many foragers fed for as long as possible. With
``players=2`` two colonies share the same food and crowd each other out. All numbers live in
``ForageConfig``; the defaults are quoted below.

**Map.** Fertile cells (30% of the map) are grown as random-walk patches of 4 to 12 cells and
start full (``food_capacity = 10``); each regains ``food_regrow = 0.25`` per step up to the
capacity. Other cells never hold food. The initial agents (``initial_agents`` per player) stand
on distinct cells drawn uniformly, each with ``initial_energy = 30``.

**Spawning and death.** A forager whose energy reaches ``split_threshold = 40`` at the end of a
step splits: its child appears on a free neighbouring cell (N, E, S or W; the order starts at a
direction that rotates with the step and the parent's number, so colonies do not drift one way)
as a new agent with a fresh name from the player's finite pool; parent and child each get half
of ``energy - split_cost`` (4). A forager with no free neighbour (boxed in by other agents or the
map edge) does not split and keeps its energy (capped at ``max_energy = 60``). When several
parents want the same cell, the lowest slot gets it and the others try their next direction.
A player's population is capped by its slots (``agent_slots_per_player``: at most that many
alive at once) and its pool (``agent_ids_per_player`` names per episode, never reused): once
either is used up, splitting waits (slots) or stops (pool). A forager dies when its energy falls
to 0 or below, or when it has lived ``max_age = 200`` steps. A dying agent appears in that
step's dicts with ``terminations[agent] = True`` and leaves ``agents``; names are never reused
within an episode. A child born in the episode's last step never becomes an agent (it never
acts).

**Rules of one step**, in order: masked actions become ``stay``; moves (below); eating: every
forager, moved or not, takes ``min(food on its cell, bite = 5, max_energy - energy)`` from the
cell it now stands on (eating is automatic: there is no eat action, so staying on food is
eating); every forager pays ``energy_cost = 1`` and movers ``move_cost = 0.5`` more, and ages
by one; deaths; splits; regrowth; the clock ticks. Moves: a move is legal only into a cell on
the map that holds no agent when the step begins, so agents never swap or push. When several
agents move into the same cell, the one with the most energy gets there (ties: the lowest slot)
and the others stay.

**Actions** (one ``Discrete(5)``; the mask in the observation says what is legal now):

==  =============  =============================================================================
0   stay           always legal (and the agent eats what its cell holds)
1-4 move N/E/S/W   the target cell is on the map and holds no agent now
==  =============  =============================================================================

A masked action runs as ``stay`` and sets ``infos[agent]["illegal_action"]`` (or raises
``ValueError`` with ``strict=True``). An unknown or dead agent, or an action outside ``[0, 5)``,
raises ``ValueError`` naming it, and nothing in the world changes.

**Observations.** ``observation`` is the egocentric ``K x K`` window (``K = 2 obs_radius + 1``, 9 by
default) of the owner's planes around the agent, flattened plane by plane (7 planes: the 6 spatial
planes below and ``off_map``), followed by 6 own features (``energy, age, food_here, x, y, step``).
``state()`` is the 7 global planes from player 0's side: ``step, food, fertile, own_agent, enemy,
energy, age``. ``fertile``, ``own_agent``, ``enemy`` and ``off_map`` are 0/1 flags; ``food`` (by
``food_capacity``), ``energy`` (by ``max_energy``), ``age`` (by ``max_age``) and ``step`` (by
``step_scale = 1000``) are min-max scaled to [-1, 1], and the agent planes read -1 where there is no
agent. ``enemy`` is all zeros with one player. ``infos[agent]`` holds numbers only: ``cell`` (x, y),
``kind`` (an index into ``env.kind_names``), ``owner`` (an index into ``env.owner_names``) and
``illegal_action``; ``env.kind_of(agent)`` and ``env.owner_of(agent)`` give the names.

**Rewards** (weights in ``ForageConfig``): ``reward_food = 0.1`` per unit of food eaten, to the
eater; ``reward_birth = 1`` to the parent in the step it splits; ``reward_death`` (0 by default)
in the step an agent dies.

**Episode end.** The episode terminates when no forager of any player is alive (with two
players, a colony that dies out leaves the other playing on). At ``max_cycles`` every live agent
is truncated. When the episode ends, each agent's ``infos[agent]["episode"]`` holds its player's
metrics: ``episode_length``, ``food_eaten``, ``births``, ``deaths``, ``deaths_of_age`` (the
deaths at ``max_age`` with energy left), ``population_mean`` (live agents averaged over the
steps played), ``population_peak`` (most alive at once, the start included),
``population_final`` and ``illegal_actions``. A ``step`` after the end raises ``RuntimeError``
(call ``reset()``).

**Arguments.** ``forage_v0.parallel_env(*, preset=None, render_mode=None, strict=False,
config=None, **settings)``: ``preset`` is ``"tiny"`` (16 x 16, 8 agents, up to 32 alive;
``max_cycles=128``, evaluated at 256), ``"small"`` (32 x 32, 16 agents, up to 256 alive;
``max_cycles=256``, evaluated at 512) or ``"large"`` (128 x 128, ``food_regrow=0.5``, 1024
agents at the start, up to 4096 alive, 16384 names; ``max_cycles=512``, evaluated at 1000: the
throughput setting, above 1000 live agents from the first step); ``settings`` are any
``ForageConfig`` field, e.g. ``players=2``, ``map_size=64``, ``food_regrow=0.5``,
``initial_agents=3000``, ``max_cycles=1000``. Every argument is checked when the env is built:
a setting of the wrong type, NaN, infinite or out of its range raises ``ValueError`` naming it and
what it accepts (the ranges are in ``ForageConfig``'s field docstrings: e.g. ``food_capacity``,
``bite`` and energies at least 0.001, costs at least 0, ``map_size`` 4 to 1024), and nothing is
built.

**Version history.** v0: first release.
"""

from __future__ import annotations

from typing import Any

from gymnasium.utils import EzPickle
from pettingzoo.utils import parallel_to_aec

from ..core.parallel import SlotParallelEnv
from .config import ForageConfig, make_config
from .world import ForageWorld


class ForageEnv(SlotParallelEnv, EzPickle):
    """The PettingZoo parallel env of forage-v0 (see the module docstring)."""

    metadata = {
        "name": "forage_v0",
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
        config: ForageConfig | None = None,
        **settings: Any,
    ):
        EzPickle.__init__(
            self, preset=preset, render_mode=render_mode, strict=strict, config=config, **settings
        )
        self.config = make_config(config, preset, **settings)
        world = ForageWorld(self.config, num_envs=1, auto_reset=False)
        super().__init__(
            world, obs_radius=self.config.obs_radius, render_mode=render_mode, strict=strict
        )

    def _make_renderer(self):
        from .render import ForageRenderer

        return ForageRenderer(fps=self.metadata["render_fps"])


def parallel_env(**kwargs: Any) -> ForageEnv:
    """The parallel env; keyword arguments as ``ForageEnv``."""
    return ForageEnv(**kwargs)


def raw_env(**kwargs: Any):
    """The AEC env (``parallel_to_aec`` of the parallel env)."""
    return parallel_to_aec(ForageEnv(**kwargs))


env = raw_env
