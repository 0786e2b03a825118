"""``rllib-ppo``: RLlib's PPO with a shared action-masking policy, as a member of the zoo.

``config.py`` (``RLlibPPOConfig``, importable without Ray) and ``train.py`` (``train``,
``load_agent``; needs ``pip install 'spawnzoo[rllib]'``).
"""
