"""Adapters from spawnzoo's batched core to the wider ecosystem.

``SlotVecEnv`` (``sb3_slots.py``) is a Stable-Baselines3 ``VecEnv`` with one sub-env per entity
slot: a unit's death ends its sub-env's episode and a unit built into the freed slot starts the
next one, which is what SB3 (and sb3-contrib's ``MaskablePPO``) need to learn on envs whose
agents spawn and die. SuperSuit's vector wrappers cannot do this (see ``docs/methods/
independent.md``).
"""

from .sb3_slots import SlotVecEnv, default_obs_radius, observation_size, slot_observations

__all__ = ["SlotVecEnv", "default_obs_radius", "observation_size", "slot_observations"]
