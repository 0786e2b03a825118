"""The only home of the learners' shared pieces: GAE, masked distributions and losses, rollout
storage, initialisation, evaluation, run directories, seeding. Everything works on the batched
core's ``[steps, envs, groups]`` tensors with explicit activity masks."""
