"""The browser-test machinery itself: a WAV really reaches a page as its microphone.

A page served on loopback captures one second through getUserMedia into a 48 kHz AudioContext
and an AudioWorklet that measures RMS per 100 ms, the path the browser console takes. If these
fail, every browser test would fail (or pass on silence) for reasons that are not the console's.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp import web

from bridge.audio.wav import build_wav
from tests.browser.conftest import LaunchBrowser

if TYPE_CHECKING:
    from playwright.async_api import Browser

pytestmark = [pytest.mark.timeout(30), pytest.mark.long]

SAMPLE_RATE = 48000
SILENT_RMS = 1e-3  # a float-rounding hiss at most; speech blocks run 0.02..0.17

# Echo cancellation, noise suppression and gain control off: the page must see the file's
# levels, not what Chromium's voice processing makes of them (its AGC doubles the speech).
PAGE = """<!doctype html>
<script>
window.micResult = null;
(async () => {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: {echoCancellation: false, noiseSuppression: false, autoGainControl: false},
  });
  const context = new AudioContext({sampleRate: 48000});
  await context.audioWorklet.addModule("/rms.js");
  const meter = new AudioWorkletNode(context, "rms-meter");
  meter.port.onmessage = (event) => {
    window.micResult = {sampleRate: context.sampleRate, blocks: event.data};
    stream.getTracks().forEach((track) => track.stop());
  };
  context.createMediaStreamSource(stream).connect(meter);
  meter.connect(context.destination);  // a node nothing pulls is never processed
})().catch((error) => { window.micResult = {error: String(error)}; });
</script>
"""

# RMS of each 100 ms of the first channel, for one second; then the meter stops itself.
RMS_WORKLET = """
class RmsMeter extends AudioWorkletProcessor {
  constructor() {
    super();
    this.blocks = [];
    this.sum = 0;
    this.frames = 0;
  }
  process(inputs) {
    const channel = inputs[0][0];
    if (!channel) return true;
    for (const sample of channel) this.sum += sample * sample;
    this.frames += channel.length;
    if (this.frames >= sampleRate / 10) {
      this.blocks.push(Math.sqrt(this.sum / this.frames));
      this.sum = 0;
      this.frames = 0;
    }
    if (this.blocks.length < 10) return true;
    this.port.postMessage(this.blocks);
    return false;
  }
}
registerProcessor("rms-meter", RmsMeter);
"""


@pytest.fixture
async def page_url(aiohttp_server: Any) -> str:
    async def page(_: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    async def worklet(_: web.Request) -> web.Response:
        return web.Response(text=RMS_WORKLET, content_type="text/javascript")

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/rms.js", worklet)
    server = await aiohttp_server(app)
    return str(server.make_url("/"))


async def capture(browser: Browser, url: str) -> Any:
    """What the page measured of one second of the browser's microphone."""
    page = await browser.new_page()
    await page.goto(url)
    await page.wait_for_function("window.micResult !== null", timeout=5000)
    result = await page.evaluate("window.micResult")
    assert "error" not in result, f"the page failed: {result['error']}"
    return result


def write_tone(path: Path, seconds: float, rate: int = 8000) -> Path:
    """A 440 Hz tone at half scale (RMS 0.35)."""
    samples = (
        round(16383 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(int(rate * seconds))
    )
    path.write_bytes(
        build_wav(rate, b"".join(s.to_bytes(2, "little", signed=True) for s in samples))
    )
    return path


async def test_speech_reaches_a_48khz_audio_context(browser: Browser, page_url: str) -> None:
    result = await capture(browser, page_url)
    assert result["sampleRate"] == SAMPLE_RATE
    loud = [rms for rms in result["blocks"] if rms > 0.02]
    assert len(loud) >= 5, f"the 8 kHz speech fixture arrived (nearly) silent: {result['blocks']}"


async def test_a_silent_wav_is_a_silent_microphone(
    launch_browser: LaunchBrowser, page_url: str, tmp_path: Path
) -> None:
    silent = tmp_path / "silence.wav"
    silent.write_bytes(build_wav(8000, bytes(2 * 8000 * 2)))
    result = await capture(await launch_browser(silent), page_url)
    assert max(result["blocks"]) < SILENT_RMS, result["blocks"]


@pytest.mark.parametrize("loop", [True, False])
async def test_a_short_wav_loops_unless_told_not_to(
    launch_browser: LaunchBrowser, page_url: str, tmp_path: Path, loop: bool
) -> None:
    tone = write_tone(tmp_path / "tone.wav", seconds=0.3)
    tail = (await capture(await launch_browser(tone, loop=loop), page_url))["blocks"][5:]
    if loop:
        assert min(tail) > 0.2, f"a looped 0.3 s tone went quiet: {tail}"
    else:
        assert max(tail) < SILENT_RMS, f"a tone played once kept sounding: {tail}"
