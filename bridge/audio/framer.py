"""Cuts an arbitrary byte stream into frames of exactly N ms.

Carriers want exact frames (Twilio tolerates any size, Vonage distorts on anything but 20 ms) and
Kallglot wants 100-200 ms chunks; both are this one mechanism with a different N.
"""

from __future__ import annotations

from bridge.audio.formats import AudioFormat


class Reframer:
    """Collects pieces until a frame is complete, then joins them once.

    Small pieces into a large frame (20 ms carrier frames into 100 ms Kallglot chunks) cost a
    list append each and one join per frame; a large piece into small frames (a translated chunk
    into carrier frames) is sliced without being copied into a buffer first.
    """

    def __init__(self, fmt: AudioFormat, frame_ms: int) -> None:
        if frame_ms <= 0:
            raise ValueError(f"frame length must be positive, got {frame_ms} ms")
        self.format = fmt
        self.frame_ms = frame_ms
        self.frame_bytes = fmt.bytes_for_ms(frame_ms)
        self._pieces: list[bytes] = []  # less than one frame in total
        self._pending = 0

    @property
    def pending_bytes(self) -> int:
        return self._pending

    def push(self, data: bytes) -> list[bytes]:
        """Adds `data`; returns every complete frame now available, oldest first."""
        size = self.frame_bytes
        total = self._pending + len(data)
        if total < size:
            if data:
                self._pieces.append(bytes(data))
            self._pending = total
            return []
        if self._pieces:
            self._pieces.append(data)
            data = b"".join(self._pieces)
            self._pieces = []
        elif total == size:  # the common carrier case: already one frame
            return [bytes(data)]
        rest = total % size
        self._pending = rest
        if rest:
            self._pieces.append(data[total - rest :])
        return [data[i : i + size] for i in range(0, total - rest, size)]

    def flush(self, pad: bool = True) -> bytes | None:
        """The remainder as a last frame, padded with silence to full length when `pad`."""
        if not self._pending:
            return None
        tail = b"".join(self._pieces)
        self.clear()
        if pad:
            tail += self.format.silence(self.frame_bytes - len(tail))
        return tail

    def clear(self) -> None:
        self._pieces = []
        self._pending = 0
