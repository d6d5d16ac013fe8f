"""Download one URL to a file, with a rich progress bar on a terminal; atomic on success."""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

TIMEOUT_SECONDS = 60
CHUNK = 1 << 16


def make_downloader(quiet: bool = False, console: Console | None = None):
    """A ``download(url, destination)`` callable; the bar shows only on a terminal and not when quiet."""
    console = console or Console(stderr=True)
    show = console.is_terminal and not quiet

    def download(url: str, destination: Path) -> None:
        partial = destination.with_name(destination.name + ".part")
        request = urllib.request.Request(url, headers={"User-Agent": "tinytorch-harness"})
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response, \
                open(partial, "wb") as out, \
                Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                         TransferSpeedColumn(), console=console, disable=not show, transient=True) as bar:
            total = response.headers.get("Content-Length")
            task = bar.add_task(f"{destination.name}", total=int(total) if total else None)
            for block in iter(lambda: response.read(CHUNK), b""):
                out.write(block)
                bar.advance(task, len(block))
        os.replace(partial, destination)
        if not show and not quiet:
            console.print(f"downloaded {url}")

    return download
