"""A stored transcript as a file: plain text, SubRip (SRT), WebVTT or JSON.

Every segment is one line of text (line breaks and runs of whitespace inside it become one
space), so no transcript text can end a cue early or look like a timing line. Segments whose
text is empty are left out of the text formats. A segment without an end (or with an end
not after its start) ends 2 s after it starts, or earlier when the next segment starts
sooner, so cues do not overlap the next speaker.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, NamedTuple

import msgspec

from moot.transcription.schemas import TranscriptSegment

ExportFormat = Literal["txt", "srt", "vtt", "json"]

DEFAULT_DURATION = 2.0  # seconds shown for a segment that has no end of its own


class Cue(NamedTuple):
    start: float
    end: float
    speaker: str | None
    text: str


def _one_line(text: str) -> str:
    # str.split() also splits on CR, VT, FF, NEL and U+2028/2029, which some players treat
    # as line breaks.
    return " ".join(text.split())


def _cues(segments: Sequence[TranscriptSegment]) -> list[Cue]:
    cues: list[Cue] = []
    for i, segment in enumerate(segments):
        text = _one_line(segment.text)
        if not text:
            continue
        start = max(segment.started_at, 0.0)
        if segment.ended_at is not None and segment.ended_at > start:
            end = segment.ended_at
        else:
            end = start + DEFAULT_DURATION
            later = (s.started_at for s in segments[i + 1 :] if s.started_at > start)
            end = min(end, next(later, end))
        speaker = _one_line(segment.display_name or "") or None
        cues.append(Cue(start, end, speaker, text))
    return cues


def _clock(seconds: float, separator: str) -> str:
    """HH:MM:SS<separator>mmm; hours grow past two digits rather than wrap."""
    millis = round(max(seconds, 0.0) * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _txt(cues: list[Cue]) -> str:
    lines = []
    for cue in cues:
        hours, rest = divmod(int(cue.start), 3600)
        minutes, secs = divmod(rest, 60)
        who = f"{cue.speaker}: " if cue.speaker else ""
        lines.append(f"[{hours:02d}:{minutes:02d}:{secs:02d}] {who}{cue.text}\n")
    return "".join(lines)


def _srt(cues: list[Cue]) -> str:
    blocks = []
    for number, cue in enumerate(cues, start=1):
        who = f"{cue.speaker}: " if cue.speaker else ""
        timing = f"{_clock(cue.start, ',')} --> {_clock(cue.end, ',')}"
        blocks.append(f"{number}\n{timing}\n{who}{cue.text}\n")
    return "\n".join(blocks)


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _vtt(cues: list[Cue]) -> str:
    blocks = []
    for cue in cues:
        voice = f"<v {_vtt_escape(cue.speaker)}>" if cue.speaker else ""
        timing = f"{_clock(cue.start, '.')} --> {_clock(cue.end, '.')}"
        blocks.append(f"{timing}\n{voice}{_vtt_escape(cue.text)}\n")
    return "WEBVTT\n" + "".join(f"\n{block}" for block in blocks)


_TEXT_FORMATS: dict[str, tuple[Callable[[list[Cue]], str], str]] = {
    "txt": (_txt, "text/plain; charset=utf-8"),
    "srt": (_srt, "application/x-subrip; charset=utf-8"),
    "vtt": (_vtt, "text/vtt; charset=utf-8"),
}


# The media type each format is served as.
MEDIA_TYPES: dict[str, str] = {
    **{fmt: media_type for fmt, (_, media_type) in _TEXT_FORMATS.items()},
    "json": "application/json",
}


def render(segments: Sequence[TranscriptSegment], fmt: str) -> tuple[str | bytes, str, str]:
    """(body, media type, file extension) of the transcript in `fmt` (txt, srt, vtt, json).
    Segments are put in timeline order (started_at, id) first."""
    ordered = sorted(segments, key=lambda s: (s.started_at, s.id))
    if fmt == "json":
        return msgspec.json.encode(ordered), MEDIA_TYPES["json"], "json"
    if fmt not in _TEXT_FORMATS:
        raise ValueError(f"unknown transcript format {fmt!r}")
    write, media_type = _TEXT_FORMATS[fmt]
    return write(_cues(ordered)), media_type, fmt
