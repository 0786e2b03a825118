"""Configuration of the hybrid method (PPO settings plus network and trajectory separation)."""

from __future__ import annotations

from dataclasses import dataclass, field

from spawnzoo.baselines.common.config import LARGE_MAP_SIDE, PPOConfig

#: (width, depth, stages) of the network on maps of at least ``LARGE_MAP_SIDE`` (the paper's
#: network: with harvest's factorised heads 208,457 parameters, the paper's count) and on
#: smaller maps (CPU-sized)
PAPER_NETWORK, CPU_NETWORK = (32, 2, 2), (16, 1, 1)
GLOBALISABLE = ("reward", "critic", "advantage", "logprob", "entropy", "dones")


@dataclass
class HybridConfig(PPOConfig):
    """The paper's hybrid: one conv pass, per-entity heads, PPO quantities kept per group."""

    width: int | None = None
    """Channels of the conv trunks; ``None``: by map size (32 on maps of 48 x 48 and larger,
    the paper's; else 16)."""
    depth: int | None = None
    """SE-residual blocks per stage (the paper: 2); ``None``: by map size (2 on maps of 48 x 48
    and larger, else 1)."""
    stages: int | None = None
    """Stages of (conv, SE-residual blocks) in each trunk (the paper: 2); ``None``: by map size
    (2 on maps of 48 x 48 and larger, else 1)."""
    heads: str = "auto"
    """Actor heads: ``factorised`` (the paper's: action type, then its direction, resource,
    amount and repeat, each masked; needs an env that declares ``action_factors``, as harvest
    does), ``flat`` (one head per kind onto the env's ``Discrete(A)``), or ``auto``:
    ``factorised`` where the env declares its factors, else ``flat``."""
    critic: str = "local+global"
    """``local+global`` (value map at the entity's cell + board mean) or ``global`` only."""
    init: str = "paper"
    """``paper`` (orthogonal, output gain 0.01, extra 0.01 weight scale, per-layer seeds) or
    ``default`` (PyTorch's)."""
    weight_scale: float = 0.01
    """The paper's extra scale of every weight after init."""
    scaled: str = "all"
    """Where the paper's weight scaling applies (§3.7's ablations; see ``HybridPolicy``): ``all``
    (the paper), ``outputs`` (no extra hidden-layer scaling), ``actor`` (no value scaling),
    ``critic`` (no actor scaling), ``none`` (no scaling)."""
    batch_norm: bool = True
    """BatchNorm after every hidden conv (``False``: §3.7's "no batch norm")."""
    spectral_norm: bool = True
    """Spectral norm on every hidden conv (``False``: §3.7's "no spectral norm")."""
    action_masking: bool = True
    """Sample from the legal actions only (``False``: §3.7's "no invalid action masking": the
    policy samples from every action, in training and evaluation; the env runs an illegal one
    as the no-op and counts it)."""
    truncation: str = "bootstrap"
    """A trajectory cut at ``max_cycles``: ``bootstrap`` from the value of its final state, or
    ``terminal`` (value 0, as the paper's code does)."""
    grouping: str = "entity"
    """Trajectory separation: ``entity``, ``global``, ``factories=entity,robots=global`` (any
    combination), ``random:N``, ``quadrant``, ``nearest_factory``, ``nearest_heavy``. The names
    are harvest's: on any env ``factories`` means structures and ``robots`` units."""
    own_reward_weight: float = 1.0
    """Group reward = w x own + (1 - w) x mean of the active groups' rewards."""
    top_n: int | None = None
    """Keep only N unit ("robot") examples per step (train-sample reduction); ``None`` keeps
    all."""
    top_n_by: str = "advantage"
    """How the N are chosen: ``advantage``, ``abs_advantage``, ``return`` or ``random``."""
    globalise: tuple[str, ...] = field(default_factory=tuple)
    """Components made global while the rest stays separated: any of ``GLOBALISABLE``."""
    planes_fp16: bool = False
    """Store rollout planes as float16 (halves the rollout memory on big maps)."""
    channels_last: bool = False
    """Run the conv trunks in channels-last memory layout: on CPU about 1.5x faster updates
    (oneDNN skips its layout reorders), but other conv kernels, so results differ from the
    default layout in the last float bits (statistically the same; see docs/methods/hybrid.md)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.globalise, str):
            self.globalise = tuple(x for x in self.globalise.split(",") if x)
        unknown = set(self.globalise) - set(GLOBALISABLE)
        if unknown:
            raise ValueError(
                f"globalise: unknown component(s) {sorted(unknown)}; use {GLOBALISABLE}"
            )
        if self.heads not in ("auto", "factorised", "flat"):
            raise ValueError(f"heads must be 'auto', 'factorised' or 'flat', got {self.heads!r}")
        if self.scaled not in ("all", "outputs", "actor", "critic", "none"):
            raise ValueError(
                f"scaled must be 'all', 'outputs', 'actor', 'critic' or 'none', got {self.scaled!r}"
            )
        if self.truncation not in ("bootstrap", "terminal"):
            raise ValueError(
                f"truncation must be 'bootstrap' or 'terminal', got {self.truncation!r}"
            )
        if self.critic not in ("local+global", "global"):
            raise ValueError(f"critic must be 'local+global' or 'global', got {self.critic!r}")
        if not 0.0 <= self.own_reward_weight <= 1.0:
            raise ValueError(f"own_reward_weight must be in [0, 1], got {self.own_reward_weight}")
        if self.top_n is not None and self.top_n < 1:
            raise ValueError(f"top_n must be >= 1 or None, got {self.top_n}")
        if self.top_n_by not in ("advantage", "abs_advantage", "return", "random"):
            raise ValueError(f"top_n_by: unknown rule {self.top_n_by!r}")
        width, depth, stages = PAPER_NETWORK if self.map_side >= LARGE_MAP_SIDE else CPU_NETWORK
        if self.width is None:
            self.width = width
        if self.depth is None:
            self.depth = depth
        if self.stages is None:
            self.stages = stages
