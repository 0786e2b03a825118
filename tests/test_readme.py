"""The README's code runs as written (users paste it first)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_python_examples():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_block_runs(index):
    namespace: dict = {}
    exec(compile(BLOCKS[index], f"README.md block {index}", "exec"), namespace)
    if "env" in namespace:  # the PettingZoo loop ran to the end of an episode
        assert namespace["env"].agents == []
    if "batch" in namespace:  # the batched loop stepped 64 worlds
        assert namespace["batch"].alive.shape[0] == 64
        assert namespace["planes"].shape[:3] == (64, 1, 18)
