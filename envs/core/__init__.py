"""What every spawnzoo env shares: agent pools, the batched array API, the registry, the
PettingZoo adapter over a batched world, and the pygame canvas. numpy/pettingzoo/pygame only."""

from .batched import BatchedEnv, BatchStep, FinalState, validate_actions
from .pool import AgentPool

__all__ = ["AgentPool", "BatchStep", "BatchedEnv", "FinalState", "validate_actions"]
