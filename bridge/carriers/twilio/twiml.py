"""The few TwiML documents the bridge answers with, built by the `twilio` package.

Pure functions from values to XML strings: the package does the escaping (a raw `&` in a URL or
a caller-supplied greeting would otherwise break Twilio's parse, carriers.md §9.22).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from twilio.twiml.voice_response import Connect, Gather, VoiceResponse

from bridge.carriers.interface import (
    Answer,
    AskForDigit,
    ConnectStream,
    SayAndHangUp,
    Speech,
    Transfer,
)

__all__ = [
    "Speech",
    "answer_twiml",
    "connect_stream_twiml",
    "language_menu_twiml",
    "say_hangup_twiml",
    "transfer_twiml",
]


def _say(parent: VoiceResponse | Gather, speech: Speech) -> None:
    attributes = {"language": speech.language, "voice": speech.voice}
    parent.say(speech.text, **{k: v for k, v in attributes.items() if v})


def connect_stream_twiml(
    stream_url: str,
    parameters: Mapping[str, str] | None = None,
    greeting: Speech | None = None,
    status_callback: str | None = None,
) -> str:
    """Optional greeting, then a bidirectional stream; `<Hangup/>` runs when we close the socket.

    `<Hangup/>` rather than nothing or `<Pause>`: a closed socket must end the call, not leave
    the caller on a silent line (carriers.md §9.11). Stream URLs take no query string, so
    everything the media handler needs travels as `<Parameter>`s.
    """
    response = VoiceResponse()
    if greeting is not None:
        _say(response, greeting)
    connect = Connect()
    stream_attributes = {"url": stream_url}
    if status_callback:
        stream_attributes["status_callback"] = status_callback
    stream = connect.stream(**stream_attributes)
    for name, value in (parameters or {}).items():
        stream.parameter(name=name, value=value)
    response.append(connect)
    response.hangup()
    return str(response)


def say_hangup_twiml(*speech: Speech) -> str:
    """Say each text in turn, then hang up (apologies, "please call again")."""
    response = VoiceResponse()
    for part in speech:
        _say(response, part)
    response.hangup()
    return str(response)


def language_menu_twiml(
    prompts: Sequence[Speech],
    action_url: str,
    *,
    timeout_s: int = 5,
    no_input_url: str | None = None,
    no_input: Sequence[Speech] = (),
) -> str:
    """A one-key menu: Twilio POSTs the pressed key as `Digits` to `action_url`.

    Without a key within `timeout_s`, Twilio runs what follows the `<Gather>`: a redirect to
    `no_input_url` (typically the action URL again, which then picks a default) when given,
    otherwise `no_input` is said and the call hangs up.
    """
    response = VoiceResponse()
    gather = Gather(num_digits=1, action=action_url, method="POST", timeout=timeout_s)
    for prompt in prompts:
        _say(gather, prompt)
    response.append(gather)
    if no_input_url:
        response.redirect(no_input_url, method="POST")
    else:
        for part in no_input:
            _say(response, part)
        response.hangup()
    return str(response)


def transfer_twiml(number: str) -> str:
    response = VoiceResponse()
    response.dial(number)
    return str(response)


def answer_twiml(answer: Answer) -> str:
    """The TwiML that does `answer`."""
    if isinstance(answer, ConnectStream):
        target = answer.target
        return connect_stream_twiml(target.url, target.parameters, answer.greeting)
    if isinstance(answer, AskForDigit):
        return language_menu_twiml(
            [answer.prompt], answer.action_url, no_input_url=answer.action_url
        )
    if isinstance(answer, SayAndHangUp):
        return say_hangup_twiml(*answer.speech)
    assert isinstance(answer, Transfer)
    return transfer_twiml(answer.number)
