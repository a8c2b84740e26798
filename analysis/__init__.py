"""bestiary.analysis: not built yet (see the open issues)."""
