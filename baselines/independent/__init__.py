"""``independent``: sb3-contrib's MaskablePPO with one policy shared by every entity (harvest:
every factory and robot), each acting on its own egocentric observation and learning from its
own reward.

``train(config) -> RunResult`` (``train.py``), ``IndependentConfig`` (``config.py``) and the
policy ``IndependentAgent(world, model).act(batch)``; the data path is
``spawnzoo.baselines.wrappers.SlotVecEnv``.
"""
