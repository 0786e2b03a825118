"""The paper's weight initialisation, shared by the conv networks (hybrid, MAPPO, monolithic).

The scheme of the paper (§6.3), which its ablations show to be essential for the hybrid net:

* orthogonal weights, zero biases, with a gain per *role* of the layer (``GAINS``): hidden
  convolutions and linears take PyTorch's leaky-ReLU gain ``sqrt(2 / (1 + 0.01**2))``, the
  squeeze-excitation layers the ReLU gain ``sqrt(2)`` and the sigmoid gain ``1``, the output
  layers (actor logits, critic values) ``0.01``;
* "extra scaling": every conv / linear weight is then multiplied by ``weight_scale`` (0.01 in
  the paper; BatchNorm's scale and shift keep torch's 1 and 0). For a spectral-normalised
  layer this acts on the raw parameter, so it leaves the forward pass unchanged and only
  changes how large the optimiser's steps are relative to the weight;
* per-layer seeding: each layer draws from its own generator, seeded from the global seed and
  the layer's unique name (``layer_seed``), so a layer's initial weights do not depend on which
  layers were built or initialised before it.

Typical use (after ``common.seeding.seed_everything``)::

    model = Net(...)
    init_model(model, {"body.0": "hidden", "head": "output"}, global_seed=cfg.seed,
               weight_scale=0.01)
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping

import torch
from torch import nn
from torch.nn.utils import parametrize

#: negative slope of every LeakyReLU in the paper's networks
LEAKY_SLOPE = 0.01

#: orthogonal-init gain of each layer role
GAINS: dict[str, float] = {
    # hidden conv / linear followed by LeakyReLU(0.01): torch.nn.init.calculate_gain
    "hidden": math.sqrt(2.0 / (1.0 + LEAKY_SLOPE**2)),
    # squeeze-excitation: the squeeze linear feeds a ReLU, the excite linear a sigmoid
    "se_relu": math.sqrt(2.0),
    "se_sigmoid": 1.0,
    # actor logits and critic outputs: near-uniform policies, near-zero values
    "output": 0.01,
    # a hidden linear layer without normalisation after it (e.g. inside an action head)
    "head_hidden": math.sqrt(2.0 / (1.0 + LEAKY_SLOPE**2)),
    # an output layer without the 0.01 gain (the paper's §3.7 "no scaling" ablations)
    "output_unscaled": 1.0,
}

#: roles left out of the extra ``weight_scale``: their outputs are not re-normalised (no spectral
#: norm, no BatchNorm after them), so shrinking them 100x would shrink every activation behind
#: them and, through the tiny output layer in front, stall learning
UNSCALED_ROLES = frozenset({"head_hidden"})

#: power-method iterations used to re-estimate a spectral-norm layer's singular vectors after
#: its weight is replaced (the number torch itself uses when it wraps a layer)
_POWER_ITERATIONS = 15


def layer_seed(global_seed: int, name: str) -> int:
    """The paper's per-layer seed: ``md5(f"seed{global_seed}_{name}") mod 1e8``.

    Args:
        global_seed: the run's seed.
        name: unique name of the layer (e.g. its qualified module name in the model).

    Returns:
        An int in ``[0, 10**8)``.
    """
    digest = hashlib.md5(f"seed{global_seed}_{name}".encode()).hexdigest()
    return int(digest, 16) % 10**8


def init_module(
    module: nn.Module,
    *,
    global_seed: int,
    name: str,
    gain: float,
    weight_scale: float = 1.0,
) -> None:
    """Orthogonal weight, zero bias, then ``weight *= weight_scale``, drawn from the layer's seed.

    Works on ``nn.Linear`` and ``nn.Conv*d`` (a conv weight ``[out, in, k, k]`` is made
    orthogonal as an ``[out, in*k*k]`` matrix), plain or spectral-normalised with either
    ``torch.nn.utils.parametrizations.spectral_norm`` or the older
    ``torch.nn.utils.spectral_norm``. For a spectral-normalised layer the raw parameter
    (``parametrizations.weight.original`` or ``weight_orig``) is initialised and the power
    method's vectors ``u``, ``v`` are re-estimated for the new weight, from the same seed. The
    global torch RNG is neither used nor advanced.

    Args:
        module: the layer; it must have a ``weight`` of at least 2 dimensions.
        global_seed: the run's seed.
        name: unique name of the layer, hashed into its seed (see ``layer_seed``).
        gain: orthogonal-init gain, usually ``GAINS[role]``.
        weight_scale: factor applied to the weight after init (the paper's extra 0.01).

    Raises:
        TypeError: the module has no weight matrix to initialise.
    """
    weight = _raw_weight(module)
    if weight is None or weight.dim() < 2:
        raise TypeError(f"{name}: {type(module).__name__} has no weight matrix to initialise")
    generator = torch.Generator(device=weight.device).manual_seed(layer_seed(global_seed, name))
    with torch.no_grad():
        nn.init.orthogonal_(weight, gain=gain, generator=generator)
        weight.mul_(weight_scale)
        bias = getattr(module, "bias", None)
        if bias is not None:
            bias.zero_()
        _reset_power_vectors(module, weight, generator)


def init_model(
    model: nn.Module,
    roles: Mapping[str, str],
    *,
    global_seed: int,
    weight_scale: float = 1.0,
    strict: bool = True,
) -> None:
    """Apply ``init_module`` to the named submodules of a model, each with its role's gain.

    Each layer is seeded from its qualified name in ``model`` (``model.named_modules()``), so
    the result depends neither on the order of ``roles`` nor on the order the layers were built.

    Args:
        model: the network.
        roles: qualified submodule name -> role, a key of ``GAINS`` (``"hidden"``,
            ``"se_relu"``, ``"se_sigmoid"``, ``"output"``).
        global_seed: the run's seed.
        weight_scale: factor applied to every initialised weight (the paper's extra 0.01),
            except those with a role in ``UNSCALED_ROLES``.
        strict: also require every ``nn.Linear`` / ``nn.Conv*d`` of the model to have a role,
            so that no layer silently keeps torch's default init.

    Raises:
        KeyError: a name that is not a submodule, or a role that is not in ``GAINS``.
        ValueError: ``strict`` and some weight layer has no role.
    """
    modules = dict(model.named_modules())
    for name, role in roles.items():
        if name not in modules:
            raise KeyError(f"{name!r} is not a submodule of {type(model).__name__}")
        if role not in GAINS:
            raise KeyError(f"{name!r}: unknown role {role!r}; expected one of {sorted(GAINS)}")
        init_module(
            modules[name],
            global_seed=global_seed,
            name=name,
            gain=GAINS[role],
            weight_scale=1.0 if role in UNSCALED_ROLES else weight_scale,
        )
    if strict:
        layer_types = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
        missing = [n for n, m in modules.items() if isinstance(m, layer_types) and n not in roles]
        if missing:
            raise ValueError(f"layers without an init role: {missing}")


def _raw_weight(module: nn.Module) -> torch.Tensor | None:
    """The trainable tensor behind ``module.weight`` (pre-normalisation for spectral norm)."""
    if parametrize.is_parametrized(module, "weight"):
        return module.parametrizations.weight.original
    if hasattr(module, "weight_orig"):
        return module.weight_orig
    return getattr(module, "weight", None)


def _reset_power_vectors(
    module: nn.Module, weight: torch.Tensor, generator: torch.Generator
) -> None:
    """Re-estimate a spectral-norm layer's singular vectors ``u``, ``v`` for its new weight.

    Without this the vectors would still describe the weight torch drew when it wrapped the
    layer (from the global RNG), and the first normalised weight would depend on that draw.
    Layers without spectral norm are left alone.
    """
    holders: list[tuple[nn.Module, str, str]] = []
    if parametrize.is_parametrized(module, "weight"):
        for p in module.parametrizations.weight:
            if hasattr(p, "_u") and hasattr(p, "_v"):
                if getattr(p, "dim", 0) != 0:
                    raise NotImplementedError("spectral norm over dim != 0 is not supported")
                holders.append((p, "_u", "_v"))
    elif hasattr(module, "weight_u") and hasattr(module, "weight_v"):
        holders.append((module, "weight_u", "weight_v"))
    if not holders:
        return
    mat = weight.detach().flatten(1)  # [out, in * k * k]
    for holder, u_name, v_name in holders:
        u_buf, v_buf = getattr(holder, u_name), getattr(holder, v_name)
        u = torch.randn(u_buf.shape, generator=generator, device=mat.device, dtype=mat.dtype)
        v = torch.randn(v_buf.shape, generator=generator, device=mat.device, dtype=mat.dtype)
        u, v = nn.functional.normalize(u, dim=0), nn.functional.normalize(v, dim=0)
        for _ in range(_POWER_ITERATIONS):
            v = nn.functional.normalize(mat.t() @ u, dim=0, eps=1e-12)
            u = nn.functional.normalize(mat @ v, dim=0, eps=1e-12)
        u_buf.copy_(u)
        v_buf.copy_(v)
        if u_name == "weight_u":
            # the old API caches the normalised weight as a plain attribute, refreshed by its
            # forward pre-hook; refresh it now so it does not show the replaced weight until then
            module.weight = weight.detach() / torch.dot(u, mat @ v)
