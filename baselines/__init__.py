"""spawnzoo.baselines: independent and centralized learners on the batched core of spawnzoo.envs."""
