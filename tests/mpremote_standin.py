"""A stand-in for ``mpremote`` with a gate's board behind it, for the flash tests.

The board is hardware, so it is what is faked here; mpremote itself is not ours to fake beyond
taking the same command line. tests/test_gates_cli.py installs this file as an executable named
``mpremote`` on PATH. It accepts ``connect PORT`` followed by commands separated by ``+``:
``sleep S``, ``fs touch|rm :NAME``, ``fs cp SRC... :``, ``exec CODE`` and ``reset``.

The board lives in the directory ``$FAKE_BOARD``:

- ``fs/`` is its flash filesystem (the root directory);
- ``state.json`` says what it runs: ``app`` (the gate's app with its watchdog armed), ``maintenance``
  (main.py found the ``maintenance`` file: no app, no watchdog) or ``repl`` (no main.py);
  ``watchdog`` is true from the moment the app starts it until a hard reset, as on the ESP32,
  where neither Ctrl-C nor a soft reset stops it; ``free_files``, if present, is how many more files
  fit in its flash;
- ``calls.jsonl`` gets one line per run: the arguments and, per command, the state it ran in.

Connecting interrupts the app (mpremote sends Ctrl-C) but leaves the watchdog armed. ``exec`` runs
the code with this Python in ``fs/``, as MicroPython would in the board's root. ``reset`` boots the
board as main.py does: maintenance mode if ``fs/maintenance`` exists, else the app if there is a
main.py.
"""

import json
import os
import shutil
import sys
from pathlib import Path

BOARD = Path(os.environ["FAKE_BOARD"])
FS = BOARD / "fs"
STATE = BOARD / "state.json"


def remote(name: str) -> Path:
    if not name.startswith(":"):
        sys.exit(f"stand-in mpremote: remote paths start with ':', got {name!r}")
    return FS / name[1:]


def boot(state: dict) -> None:
    if (FS / "maintenance").exists():
        state.update(running="maintenance", watchdog=False)
    elif (FS / "main.py").exists():
        state.update(running="app", watchdog=True)
    else:
        state.update(running="repl", watchdog=False)
    state["boots"].append(state["running"])


def run(command: list[str], state: dict) -> None:
    verb, args = command[0], command[1:]
    if verb == "sleep":
        float(args[0])
    elif verb == "reset":
        boot(state)
    elif verb == "exec":
        here = os.getcwd()
        os.chdir(FS)
        try:
            exec(args[0], {})
        finally:
            os.chdir(here)
    elif verb == "fs" and args[0] == "touch":
        remote(args[1]).touch()
    elif verb == "fs" and args[0] == "rm":
        path = remote(args[1])
        if not path.is_file():
            print(f"rm: {args[1]}: No such file or directory", file=sys.stderr)
            sys.exit(1)
        path.unlink()
    elif verb == "fs" and args[0] == "cp":
        *sources, target = args[1:]
        if target != ":":
            sys.exit(f"stand-in mpremote: only copies to ':' are modelled, got {target!r}")
        for source in sources:
            if state.get("free_files") == 0:
                print(f"cp {source} :\nOSError: [Errno 28] ENOSPC", file=sys.stderr)
                sys.exit(1)
            print(f"cp {source} :")
            shutil.copyfile(source, FS / Path(source).name)
            if "free_files" in state:
                state["free_files"] -= 1
    else:
        sys.exit(f"stand-in mpremote: command not modelled: {command}")


def main(argv: list[str]) -> None:
    if argv[:1] != ["connect"] or len(argv) < 3:
        sys.exit(f"stand-in mpremote: expected 'connect PORT ...', got {argv}")
    state = json.loads(STATE.read_text())
    record = {"argv": argv, "commands": []}
    if state["running"] == "app":
        state["running"] = "repl"  # Ctrl-C stopped the app; its watchdog keeps running
    commands, current = [], []
    for arg in argv[2:]:
        if arg == "+":
            commands.append(current)
            current = []
        else:
            current.append(arg)
    commands.append(current)
    try:
        for command in commands:
            record["commands"].append({"command": command[:2], "watchdog": state["watchdog"],
                                       "running": state["running"]})
            run(command, state)
    finally:
        STATE.write_text(json.dumps(state))
        with open(BOARD / "calls.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
