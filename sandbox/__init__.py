"""bestiary.sandbox: not built yet (see the open issues)."""
