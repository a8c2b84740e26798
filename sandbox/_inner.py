"""Runs inside the sandbox, before the command: applies Landlock, reports, then execs the command.

Invoked as ``python -I -S _inner.py CONFIG_JSON -- CMD ...`` by the sandbox runner; it
imports only the standard library and ``landlock.py`` beside it. ``CONFIG_JSON`` holds
``writable`` (paths), ``landlock`` (``required``, ``auto`` or ``off``) and ``status_fd``
(a pipe to the host, which receives one JSON line and is closed before the exec).
Exit code 125 means the sandbox could not be set up and the command did not run.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import landlock

SETUP_FAILED = 125


def main() -> None:
    config = json.loads(sys.argv[1])
    command = sys.argv[sys.argv.index("--") + 1 :]
    status: dict = {"landlock_abi": 0, "error": None}
    if config["landlock"] != "off":
        try:
            status["landlock_abi"] = landlock.restrict(config["writable"])
        except OSError as exc:
            status["error"] = f"landlock: {exc}"
    with os.fdopen(config["status_fd"], "w") as out:
        out.write(json.dumps(status) + "\n")
    if status["error"] and config["landlock"] == "required":
        print(f"sandbox setup failed: {status['error']}; nothing was run", file=sys.stderr)
        sys.exit(SETUP_FAILED)
    try:
        os.execvp(command[0], command)
    except OSError as exc:
        print(f"sandbox: cannot execute {command[0]!r}: {exc.strerror}", file=sys.stderr)
        sys.exit(127)


if __name__ == "__main__":
    main()
