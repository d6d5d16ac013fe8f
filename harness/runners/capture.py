"""Keep only the head and the tail of a stream, whatever its size; read a pipe that way on a thread."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

HEAD_BYTES = 32 * 1024
TAIL_BYTES = 64 * 1024
_CHUNK = 64 * 1024


class CappedText:
    """Head and tail of a stream fed in chunks; memory stays under head + 2 x tail + one chunk."""

    def __init__(self, head_bytes: int = HEAD_BYTES, tail_bytes: int = TAIL_BYTES,
                 tap: Callable[[bytes], None] | None = None):
        self._head_cap, self._tail_cap = head_bytes, tail_bytes
        self._tap = tap  # sees every chunk as it arrives (the phase server reads its markers there)
        self._head = bytearray()
        self._tail = bytearray()
        self.total_bytes = 0

    def feed(self, chunk: bytes) -> None:
        if self._tap is not None:
            self._tap(chunk)
        self.total_bytes += len(chunk)
        room = self._head_cap - len(self._head)
        if room > 0:
            self._head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self._tail += chunk
            if len(self._tail) > 2 * self._tail_cap:  # trim rarely, not on every chunk
                del self._tail[: len(self._tail) - self._tail_cap]

    def text(self) -> str:
        """Head, an elision marker naming the dropped byte count, and tail, decoded leniently."""
        tail = bytes(self._tail[-self._tail_cap:])
        dropped = self.total_bytes - len(self._head) - len(tail)
        head = bytes(self._head).decode("utf-8", errors="replace")
        if dropped <= 0:
            return head + tail.decode("utf-8", errors="replace")
        marker = f"\n[... {dropped} bytes of output omitted by the harness ...]\n"
        return head + marker + tail.decode("utf-8", errors="replace")


class CappedReader(CappedText):
    """Drain ``fd`` in the background into a ``CappedText``, whatever arrives."""

    def __init__(self, fd: int, head_bytes: int = HEAD_BYTES, tail_bytes: int = TAIL_BYTES,
                 tap: Callable[[bytes], None] | None = None):
        super().__init__(head_bytes, tail_bytes, tap)
        self._fd = fd
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        try:
            while chunk := os.read(self._fd, _CHUNK):
                self.feed(chunk)
        except OSError:
            pass
        finally:
            os.close(self._fd)

    def join(self, timeout: float) -> bool:
        """Wait for end of stream; False if something still holds the pipe open."""
        self._thread.join(timeout)
        return not self._thread.is_alive()
