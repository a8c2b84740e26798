"""``python -m bestiary.organisms.worker STAGING_DIR``: the program the sandbox runs (see :mod:`.loop`)."""

import sys

from bestiary.organisms.worker.loop import main

if __name__ == "__main__":
    sys.exit(main())
