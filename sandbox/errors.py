"""Errors of ``bestiary.sandbox``."""


class SandboxError(Exception):
    """Base class of the sandbox's errors."""


class SandboxUnavailable(SandboxError):
    """A layer the policy requires cannot be established here; nothing was run.

    The message says which layer, why, and how to fix it (or which option opts out).
    """
