"""Start a job's script and measure it from a small process (stdlib only, no imports from harness).

    python -I -S launcher.py REPORT_FD PROGRAM [ARG ...]

Why: on Linux, ``execve`` records the high-water RSS of the OLD memory map into the new
process's ``ru_maxrss``. A script spawned straight from the harness (vfork/fork + exec) would
report at least the harness's own resident memory. This launcher is exec'ed instead: its own
memory map is fresh and small (~9 MiB), so the script it spawns (posix_spawn, no harness memory
involved) has an accurate ``ru_maxrss``.

The report pipe is inherited by this process only: it is made close-on-exec before the script
starts, so the script can never write to it. Lines written to it:

    pid PID                                  once the script has started
    status STATUS MAXRSS_KIB UTIME STIME     the script's raw wait status and rusage, at its end

The launcher then exits 0. If it is killed before writing ``status`` (the timeout kills the
whole process group), the runner falls back to the launcher's own wait status.
"""

import os
import signal
import sys

# subprocess resets these to the default in a child (restore_signals=True); Python ignores them.
_DEFAULT_SIGNALS = tuple(getattr(signal, name) for name in ("SIGPIPE", "SIGXFZ", "SIGXFSZ")
                         if hasattr(signal, name))


def main(argv: list[str]) -> int:
    report = int(argv[1])
    os.set_inheritable(report, False)  # close-on-exec: the script never holds it
    program = argv[2:]
    pid = os.posix_spawn(program[0], program, os.environ, setsigdef=_DEFAULT_SIGNALS)
    os.write(report, f"pid {pid}\n".encode())
    _, status, usage = os.wait4(pid, 0)
    os.write(report, f"status {status} {usage.ru_maxrss} {usage.ru_utime!r} {usage.ru_stime!r}\n".encode())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
