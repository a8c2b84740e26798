"""Errors of ``bestiary.organisms``."""


class OrganismError(ValueError):
    """Base class: bad input to training or evaluation, with what would be right."""


class ScaleError(OrganismError):
    """An impossible scale: no architecture matches the requested size."""


class OrganismFileError(OrganismError):
    """A run directory that is not an organism, or an organism file that is tampered or unsafe."""
