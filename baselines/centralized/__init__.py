"""Centralized learners: one network sees the whole map.

* ``monolithic`` (``monolithic.py``, ``MonolithicConfig``): the paper's single brain (§2.1-2.2),
  a shape-preserving ``DashNet`` or the U-Net ``BottleNet`` (``bottlenet.py``) over the global
  planes, per-cell action logits, one global value, one global reward and one trajectory per
  (world, player). ``MonolithicView`` (``baselines/wrappers/monolithic_view.py``) is the same
  single brain as a Gymnasium env for sb3-contrib's ``MaskablePPO``.
* ``mappo`` (``mappo.py``, ``MappoConfig``): a shared actor on each entity's egocentric view,
  a centralized critic on the global planes, per-entity trajectories, team or own rewards.

Both train with the shared grouped masked PPO (``baselines/grouped/ppo.py``), like the
hybrid, and differ from it in the network and the grouping.
"""
