"""Grouped masked PPO: the learner of every method with the slot contract (hybrid, MAPPO,
monolithic). ``ppo.py`` is the loop (rollout, group targets, update, evaluation, checkpoints);
``grouping.py`` is trajectory separation, the paper's idea: which entities share a trajectory,
and which PPO quantities (reward, value, advantage, log-prob, entropy, done) are kept apart."""
