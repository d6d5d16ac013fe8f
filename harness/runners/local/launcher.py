"""Start a job's script and measure it from a small process (stdlib only, no imports from harness).

    python -I -S launcher.py REPORT_FD PROGRAM [ARG ...]

Why: on Linux, ``execve`` records the high-water RSS of the OLD memory map into the new
process's ``ru_maxrss``. A script spawned straight from the harness (vfork/fork + exec) would
report at least the harness's own resident memory. This launcher is exec'ed instead: its own
memory map is fresh and small (~9 MiB), so the script it spawns (posix_spawn, no harness memory
involved) has an accurate ``ru_maxrss``. The script gets a process group of its own (in the
launcher's session), so the job's group holds the script and its descendants only: the runner
kills that group (and the launcher's).

The report pipe is inherited by this process only: it is made close-on-exec before the script
starts, so the script can never write to it. Lines written to it:

    pid PID                                  once the script has started
    status STATUS MAXRSS_KIB UTIME STIME     the script's raw wait status and rusage, at its end

The launcher then exits 0. If it is killed before writing ``status`` (the timeout kills the
script's group and the launcher's), the runner falls back to the launcher's own wait status.
"""

import _signal  # not `signal`: its enum import alone costs ~8 ms of start-up
import os
import sys

# The launcher outlives a script that signals its parent (only SIGKILL, also the runner's group
# kill, ends it early); the script gets these back at their default, and SIGPIPE/SIGXFSZ too, as
# subprocess gives any child (restore_signals=True).
_IGNORED = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP, _signal.SIGQUIT)
_DEFAULT_SIGNALS = _IGNORED + tuple(getattr(_signal, name) for name in ("SIGPIPE", "SIGXFZ", "SIGXFSZ")
                                    if hasattr(_signal, name))


def main(argv: list[str]) -> int:
    for number in _IGNORED:
        _signal.signal(number, _signal.SIG_IGN)
    report = int(argv[1])
    os.set_inheritable(report, False)  # close-on-exec: the script never holds it
    program = argv[2:]
    pid = os.posix_spawn(program[0], program, os.environ, setpgroup=0, setsigdef=_DEFAULT_SIGNALS)
    os.write(report, f"pid {pid}\n".encode())
    _, status, usage = os.wait4(pid, 0)
    os.write(report, f"status {status} {usage.ru_maxrss} {usage.ru_utime!r} {usage.ru_stime!r}\n".encode())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
