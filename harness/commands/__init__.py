"""Subcommands of ``harness``: each module here has ``register(subparsers)``.

A command module adds a parser with ``set_defaults(func=...)``; ``func(args)`` returns the exit
code. To add a command, import its module in ``harness/cli.py`` and add it to ``COMMANDS`` there.
"""
