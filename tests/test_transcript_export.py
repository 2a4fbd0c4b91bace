"""Transcript downloads: exact txt, SRT, WebVTT and JSON for a small meeting."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from moot.transcription.export import render
from moot.transcription.schemas import TranscriptSegment

ALICE = uuid.UUID("11111111-1111-4111-8111-111111111111")
BOB = uuid.UUID("22222222-2222-4222-8222-222222222222")
BORIS = uuid.UUID("33333333-3333-4333-8333-333333333333")
CREATED = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


def seg(
    id: int,
    start: float,
    end: float | None,
    text: str,
    name: str | None = None,
    participant_id: uuid.UUID | None = None,
) -> TranscriptSegment:
    return TranscriptSegment(
        id=id,
        participant_id=participant_id,
        display_name=name,
        utterance_id=f"utt-{id}",
        text=text,
        language="ru" if participant_id == BORIS else "en",
        started_at=start,
        ended_at=end,
        created_at=CREATED,
    )


# Given out of order: export sorts by (started_at, id).
MEETING = [
    seg(4, 7384.5, None, "Привет, мир!", "Борис", BORIS),
    seg(1, 1.5, 3.25, "Hello, everyone.", "Alice", ALICE),
    seg(2, 3.5, None, "Tom & Jerry <3 -> <b>bold</b>", "Bob", BOB),
    seg(3, 4.0, 6.0, "Line one\nline two\r\n\r\nline three", "Alice", ALICE),
    seg(5, 10.0, 12.0, "Nobody's seat", None, None),
]


def test_txt_is_one_line_per_segment_with_time_and_speaker() -> None:
    body, media_type, ext = render(MEETING, "txt")
    assert body == (
        "[00:00:01] Alice: Hello, everyone.\n"
        "[00:00:03] Bob: Tom & Jerry <3 -> <b>bold</b>\n"
        "[00:00:04] Alice: Line one line two line three\n"
        "[00:00:10] Nobody's seat\n"
        "[02:03:04] Борис: Привет, мир!\n"
    )
    assert (media_type, ext) == ("text/plain; charset=utf-8", "txt")


def test_srt_has_numbered_cues_with_comma_milliseconds_and_speaker_prefix() -> None:
    body, media_type, ext = render(MEETING, "srt")
    assert body == (
        "1\n"
        "00:00:01,500 --> 00:00:03,250\n"
        "Alice: Hello, everyone.\n"
        "\n"
        "2\n"
        "00:00:03,500 --> 00:00:04,000\n"
        "Bob: Tom & Jerry <3 -> <b>bold</b>\n"
        "\n"
        "3\n"
        "00:00:04,000 --> 00:00:06,000\n"
        "Alice: Line one line two line three\n"
        "\n"
        "4\n"
        "00:00:10,000 --> 00:00:12,000\n"
        "Nobody's seat\n"
        "\n"
        "5\n"
        "02:03:04,500 --> 02:03:06,500\n"
        "Борис: Привет, мир!\n"
    )
    assert (media_type, ext) == ("application/x-subrip; charset=utf-8", "srt")


def test_vtt_has_a_header_voice_tags_and_escaped_text() -> None:
    body, media_type, ext = render(MEETING, "vtt")
    assert body == (
        "WEBVTT\n"
        "\n"
        "00:00:01.500 --> 00:00:03.250\n"
        "<v Alice>Hello, everyone.\n"
        "\n"
        "00:00:03.500 --> 00:00:04.000\n"
        "<v Bob>Tom &amp; Jerry &lt;3 -&gt; &lt;b&gt;bold&lt;/b&gt;\n"
        "\n"
        "00:00:04.000 --> 00:00:06.000\n"
        "<v Alice>Line one line two line three\n"
        "\n"
        "00:00:10.000 --> 00:00:12.000\n"
        "Nobody's seat\n"
        "\n"
        "02:03:04.500 --> 02:03:06.500\n"
        "<v Борис>Привет, мир!\n"
    )
    assert (media_type, ext) == ("text/vtt; charset=utf-8", "vtt")


def test_json_is_the_list_of_segments_in_timeline_order() -> None:
    body, media_type, ext = render(MEETING, "json")
    assert isinstance(body, bytes)
    assert (media_type, ext) == ("application/json", "json")
    assert "Привет, мир!".encode() in body  # UTF-8, not \\u escapes
    assert json.loads(body) == [
        {
            "id": 1,
            "participant_id": str(ALICE),
            "display_name": "Alice",
            "utterance_id": "utt-1",
            "text": "Hello, everyone.",
            "language": "en",
            "started_at": 1.5,
            "ended_at": 3.25,
            "created_at": "2025-03-01T12:00:00Z",
        },
        {
            "id": 2,
            "participant_id": str(BOB),
            "display_name": "Bob",
            "utterance_id": "utt-2",
            "text": "Tom & Jerry <3 -> <b>bold</b>",
            "language": "en",
            "started_at": 3.5,
            "ended_at": None,
            "created_at": "2025-03-01T12:00:00Z",
        },
        {
            "id": 3,
            "participant_id": str(ALICE),
            "display_name": "Alice",
            "utterance_id": "utt-3",
            "text": "Line one\nline two\r\n\r\nline three",
            "language": "en",
            "started_at": 4.0,
            "ended_at": 6.0,
            "created_at": "2025-03-01T12:00:00Z",
        },
        {
            "id": 5,
            "participant_id": None,
            "display_name": None,
            "utterance_id": "utt-5",
            "text": "Nobody's seat",
            "language": "en",
            "started_at": 10.0,
            "ended_at": 12.0,
            "created_at": "2025-03-01T12:00:00Z",
        },
        {
            "id": 4,
            "participant_id": str(BORIS),
            "display_name": "Борис",
            "utterance_id": "utt-4",
            "text": "Привет, мир!",
            "language": "ru",
            "started_at": 7384.5,
            "ended_at": None,
            "created_at": "2025-03-01T12:00:00Z",
        },
    ]


def test_a_segment_without_an_end_lasts_two_seconds_or_until_the_next_one_starts() -> None:
    segments = [
        seg(1, 0.0, None, "next starts later than 2 s"),
        seg(2, 10.0, None, "next starts in 0.75 s"),
        seg(3, 10.75, None, "next starts at the same time, the one after in 1 s"),
        seg(4, 10.75, 11.5, "has its own end"),
        seg(5, 11.75, 11.0, "end before start counts as no end"),
        seg(6, 20.0, None, "last"),
    ]
    body, _, _ = render(segments, "vtt")
    timings = [line for line in str(body).splitlines() if "-->" in line]
    assert timings == [
        "00:00:00.000 --> 00:00:02.000",
        "00:00:10.000 --> 00:00:10.750",
        "00:00:10.750 --> 00:00:11.750",
        "00:00:10.750 --> 00:00:11.500",
        "00:00:11.750 --> 00:00:13.750",
        "00:00:20.000 --> 00:00:22.000",
    ]


def test_hours_past_one_and_past_ninety_nine_keep_counting() -> None:
    segments = [seg(1, 3600.0, 3601.0, "one hour"), seg(2, 360_000.25, None, "a hundred")]
    srt, _, _ = render(segments, "srt")
    vtt, _, _ = render(segments, "vtt")
    txt, _, _ = render(segments, "txt")
    assert "01:00:00,000 --> 01:00:01,000" in str(srt)
    assert "100:00:00,250 --> 100:00:02,250" in str(srt)
    assert "100:00:00.250 --> 100:00:02.250" in str(vtt)
    assert txt == "[01:00:00] one hour\n[100:00:00] a hundred\n"


def test_line_breaks_of_every_kind_cannot_break_the_cue_structure() -> None:
    breaks = "a\nb\rc\r\n\r\nd\x0be\x0cf\x85g\u2028h\u2029i\n\n\n2\n00:00:00,000 --> 00:00:01,000"
    segments = [seg(1, 1.0, 2.0, breaks, "Eve\n\nMallory"), seg(2, 3.0, 4.0, "after", "Bob")]
    srt, _, _ = render(segments, "srt")
    assert srt == (
        "1\n"
        "00:00:01,000 --> 00:00:02,000\n"
        "Eve Mallory: a b c d e f g h i 2 00:00:00,000 --> 00:00:01,000\n"
        "\n"
        "2\n"
        "00:00:03,000 --> 00:00:04,000\n"
        "Bob: after\n"
    )
    vtt, _, _ = render(segments, "vtt")
    assert vtt == (
        "WEBVTT\n"
        "\n"
        "00:00:01.000 --> 00:00:02.000\n"
        "<v Eve Mallory>a b c d e f g h i 2 00:00:00,000 --&gt; 00:00:01,000\n"
        "\n"
        "00:00:03.000 --> 00:00:04.000\n"
        "<v Bob>after\n"
    )
    txt, _, _ = render(segments, "txt")
    assert str(txt).count("\n") == 2


def test_vtt_escapes_speaker_names_too() -> None:
    body, _, _ = render([seg(1, 0.0, 1.0, "hi", "<Ann & Co>")], "vtt")
    assert body == "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n<v &lt;Ann &amp; Co&gt;>hi\n"


def test_empty_segments_are_left_out_of_text_formats_and_numbering_continues() -> None:
    segments = [seg(1, 0.0, 1.0, "first"), seg(2, 1.0, 2.0, " \n "), seg(3, 2.0, 3.0, "third")]
    srt, _, _ = render(segments, "srt")
    assert srt == (
        "1\n00:00:00,000 --> 00:00:01,000\nfirst\n\n2\n00:00:02,000 --> 00:00:03,000\nthird\n"
    )
    body, _, _ = render(segments, "json")
    assert len(json.loads(body)) == 3


def test_an_empty_transcript_is_still_a_valid_file() -> None:
    assert render([], "txt")[0] == ""
    assert render([], "srt")[0] == ""
    assert render([], "vtt")[0] == "WEBVTT\n"
    assert render([], "json")[0] == b"[]"


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="docx"):
        render(MEETING, "docx")
