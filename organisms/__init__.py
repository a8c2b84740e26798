"""bestiary.organisms: not built yet (see the open issues)."""
