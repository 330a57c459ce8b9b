"""Cuts an arbitrary byte stream into frames of exactly N ms.

Carriers want exact frames (Twilio tolerates any size, Vonage distorts on anything but 20 ms) and
Kallglot wants 100-200 ms chunks; both are this one mechanism with a different N.
"""

from __future__ import annotations

from bridge.audio.formats import AudioFormat


class Reframer:
    def __init__(self, fmt: AudioFormat, frame_ms: int) -> None:
        if frame_ms <= 0:
            raise ValueError(f"frame length must be positive, got {frame_ms} ms")
        self.format = fmt
        self.frame_ms = frame_ms
        self.frame_bytes = fmt.bytes_for_ms(frame_ms)
        self._buffer = bytearray()

    @property
    def pending_bytes(self) -> int:
        return len(self._buffer)

    def push(self, data: bytes) -> list[bytes]:
        """Adds `data`; returns every complete frame now available, oldest first."""
        buffer = self._buffer
        size = self.frame_bytes
        if not buffer and len(data) == size:  # the common carrier case: already one frame
            return [bytes(data)]
        buffer += data
        whole = len(buffer) - len(buffer) % size
        if not whole:
            return []
        frames = [bytes(buffer[i : i + size]) for i in range(0, whole, size)]
        del buffer[:whole]
        return frames

    def flush(self, pad: bool = True) -> bytes | None:
        """The remainder as a last frame, padded with silence to full length when `pad`."""
        if not self._buffer:
            return None
        tail = bytes(self._buffer)
        self._buffer.clear()
        if pad:
            tail += self.format.silence(self.frame_bytes - len(tail))
        return tail

    def clear(self) -> None:
        self._buffer.clear()
