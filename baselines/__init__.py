"""spawnzoo.baselines: the learners (independent, centralized) on the batched core of spawnzoo.envs."""
