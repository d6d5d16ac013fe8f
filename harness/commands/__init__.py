"""Subcommands of ``harness``: each module here has ``register(subparsers)``.

A command module adds a parser with ``set_defaults(func=...)``; ``func(args)`` returns the exit
code. To add a command, add ONE line below (the module is imported only by ``harness.cli``).
"""

COMMAND_MODULES = [
    "harness.commands.listing",
    "harness.commands.validate",
    "harness.commands.check",
    "harness.commands.data",
    "harness.commands.image",
    "harness.commands.grade",
    "harness.commands.diff",
    "harness.commands.calibrate",
]
