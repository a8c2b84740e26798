"""Everything that runs inside the sandbox: the worker's loop, both trainers, evaluation, the organism's files.

``python -m bestiary.organisms.worker STAGING_DIR`` reads the unit the host staged
(:class:`~bestiary.organisms.protocol.UnitManifest`), trains and/or evaluates its organisms
with the trainer it names — :mod:`.sb3` (stable-baselines3, the reference) or
:mod:`.population_trainer` (a batched population, :mod:`.population`, :mod:`.stacked`,
:mod:`.handover`) — through one loop (:mod:`.loop`), evaluates them (:mod:`.evaluate`)
and writes their files (:mod:`.weights`) into the staging directory, where the host reads
them back as hostile input. The host never imports this package (``tests/test_layout.py``):
what crosses the boundary is in :mod:`bestiary.organisms.protocol`.
"""
