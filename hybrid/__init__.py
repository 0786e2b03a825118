"""spawnzoo.hybrid: the paper's method (global conv pass, per-unit heads, trajectory separation)."""
