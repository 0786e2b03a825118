"""What every spawnzoo env shares: agent pools (``pool``), the batched array API (``batched``), the
registry (``registry``), the PettingZoo adapter over a batched world (``parallel``), reference
policies (``policies``), the pygame canvas (``canvas``), renderer options (``rendering``), video
recording (``recording``), replay files (``replay``) and the interactive viewer (``viewer``).
numpy/pettingzoo/pygame only; pygame is imported when something is drawn."""

from .batched import BatchedEnv, BatchStep, FinalState, SlotArrayEnv, validate_actions
from .pool import AgentPool

__all__ = ["AgentPool", "BatchStep", "BatchedEnv", "FinalState", "SlotArrayEnv", "validate_actions"]
