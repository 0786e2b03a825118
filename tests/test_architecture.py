"""The house plan, enforced: layers import only downwards, and the light ones stay light.

The layers, lowest first (``setup.py`` maps each top-level folder to ``spawnzoo.<folder>``)::

    envs          numpy + pettingzoo + pygame: the envs, their batched core, rendering, replays
    integrations  adapters of the envs to other stacks (TorchRL, RLlib, SuperSuit)
    baselines     the learners and what they share; compare and report
    hybrid        the paper's method
    cli           the ``spawnzoo`` command

A module may import its own layer and the layers below, never one above: not at import time
and not inside a function either (a lazy import upwards is still a dependency upwards). Upper
layers reach lower ones by name only through the registries' ``"module:attr"`` strings, which
this check does not count.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("envs", "integrations", "baselines", "hybrid", "cli")


def _layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "spawnzoo" and parts[1] in LAYERS else None


def _imports(path: Path, package: str) -> list[tuple[int, str]]:
    """``(line, absolute module)`` of every import in the file, relative ones resolved."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((node.lineno, module))
    return found


def _modules() -> list[tuple[str, Path, str]]:
    """``(layer, file, module name)`` of every module of every layer folder present."""
    out = []
    for layer in LAYERS:
        for path in sorted((ROOT / layer).rglob("*.py")) if (ROOT / layer).is_dir() else []:
            rel = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(("spawnzoo", *(rel[:-1] if rel[-1] == "__init__" else rel)))
            out.append((layer, path, name))
    return out


def _package(path: Path, module: str) -> str:
    """The package relative imports of ``module`` start from."""
    return module if path.stem == "__init__" else module.rpartition(".")[0]


def test_every_layer_imports_only_its_own_and_the_layers_below():
    wrong = []
    for layer, path, name in _modules():
        for line, module in _imports(path, _package(path, name)):
            target = _layer_of(module)
            if target is not None and LAYERS.index(target) > LAYERS.index(layer):
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {module} ({target})")
    assert not wrong, "imports from a higher layer:\n" + "\n".join(wrong)


def test_the_layer_check_sees_an_upward_import(tmp_path):
    """The check is not vacuous: an envs module importing the learners is caught."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from spawnzoo.baselines.registry import METHODS\n")
    (line, module), *_ = _imports(bad, "spawnzoo.envs.core")
    assert _layer_of(module) == "baselines" and line == 2
    rel = tmp_path / "rel.py"
    rel.write_text("from ..common import runs\n")
    assert _imports(rel, "spawnzoo.baselines.grouped") == [(1, "spawnzoo.baselines.common")]


def _loaded_after(code: str) -> set[str]:
    """Top-level names of the ``spawnzoo.*`` layers and of torch loaded after running ``code``
    in a fresh interpreter."""
    probe = (
        f"{code}\nimport sys\n"
        "print(' '.join(sorted({m.split('.')[1] if m.startswith('spawnzoo.') else m "
        "for m in sys.modules if m.startswith('spawnzoo.') or m == 'torch'})))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_the_envs_load_no_learner_and_no_torch():
    # every module of the layer, not only the package: the renderers, viewer, replays...
    envs = sorted(name for layer, _, name in _modules() if layer == "envs")
    loaded = _loaded_after("\n".join(f"import {m}" for m in envs))
    assert loaded == {"envs"}, loaded


@pytest.mark.parametrize("module", ["spawnzoo.integrations", "spawnzoo.integrations.supersuit"])
def test_the_torch_free_integrations_load_no_torch(module):
    # SuperSuit's wrappers work on the base install + supersuit, without any learner
    loaded = _loaded_after(f"import {module}")
    assert "torch" not in loaded and loaded <= {"envs", "integrations"}, loaded


def test_the_shared_trainer_loads_no_hybrid():
    loaded = _loaded_after("import spawnzoo.baselines.grouped.ppo")
    assert "hybrid" not in loaded and "cli" not in loaded, loaded


@pytest.mark.parametrize(
    "code",
    [
        "import spawnzoo.baselines.compare.report",  # spawnzoo report reads JSON
        "import spawnzoo.baselines.common.runs",
        "import spawnzoo.baselines.registry; import spawnzoo.baselines.loading",
        "import spawnzoo.cli, spawnzoo.cli.render, spawnzoo.cli.train, spawnzoo.cli.compare",
        "import spawnzoo.cli.evaluate, spawnzoo.baselines.compare.stats",
    ],
)
def test_reading_runs_and_building_the_command_load_no_torch(code):
    assert "torch" not in _loaded_after(code)


@pytest.mark.parametrize(
    ("module", "missing", "extra"),
    [
        ("spawnzoo.integrations.rllib", "ray", "rllib"),
        ("spawnzoo.integrations.torchrl", "torchrl", "torchrl"),
    ],
)
def test_an_integration_without_its_library_names_the_extra(module, missing, extra):
    probe = (
        f"import sys; sys.modules[{missing!r}] = None\n"
        f"try:\n    import {module}\nexcept ImportError as err:\n    print(err)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert f"pip install 'spawnzoo[{extra}]'" in result.stdout, result.stdout
