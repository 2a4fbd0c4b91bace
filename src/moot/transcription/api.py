"""HTTP handlers for transcription: control (start, stop, designate) and the stored transcript."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, WebSocket, delete, get, post, websocket
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Operation, Schema
from litestar.params import FromQuery, JSONBody, Parameter

from moot.http import HOST, MEMBER, Caller, RoomId, answers
from moot.services import Svc
from moot.settings import TranscriptionSettings
from moot.transcription.control import (
    DesignateHost,
    TranscriptionStart,
    TranscriptionState,
)
from moot.transcription.export import MEDIA_TYPES
from moot.transcription.history import TranscriptDeleted
from moot.transcription.schemas import TranscriptPage, TranscriptSegment


def worker_url(request: Request[Any, Any, Any], settings: TranscriptionSettings) -> str:
    if settings.worker_public_url:
        return settings.worker_public_url
    scheme = "wss" if request.url.scheme == "https" else "ws"
    return f"{scheme}://{request.url.netloc}/ws/transcribe"


@dataclass
class _ExportOperation(Operation):
    """The export's 200 in every media type it is served as: JSON (the segments, as the
    route's `responses` describe them) and the text formats, which are strings."""

    def __post_init__(self) -> None:
        ok = (self.responses or {}).get("200")
        assert isinstance(ok, OpenAPIResponse)
        assert ok.content is not None
        for media_type in MEDIA_TYPES.values():
            bare = media_type.partition(";")[0]
            ok.content.setdefault(bare, OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING)))


class TranscriptionController(Controller):
    path = "/api/v1/rooms/{room:str}"
    tags = ["transcription"]

    @get(
        "/transcription",
        summary="Transcription state and usage (participants; after the end, those who were in "
        "the meeting)",
        responses=answers(*MEMBER),
    )
    async def state(
        self, services: Svc, participant: Caller, room_id: RoomId
    ) -> TranscriptionState:
        return await services.transcription.state(room_id, participant)

    @post(
        "/transcription/start",
        status_code=200,
        summary="Start transcribing; returns the worker URL and a short-lived token "
        "(transcription host)",
        responses=answers(
            *MEMBER,
            "transcription_disabled",
            "transcription_not_configured",
            "not_transcription_host",
            "transcription_limit_reached",
        ),
    )
    async def start(
        self,
        request: Request[Any, Any, Any],
        services: Svc,
        participant: Caller,
        room_id: RoomId,
    ) -> TranscriptionStart:
        url = worker_url(request, services.transcription.settings)
        return await services.transcription.start(room_id, participant, url)

    @post(
        "/transcription/stop",
        status_code=200,
        summary="Stop (transcription host or host)",
        responses=answers(*MEMBER, "not_transcription_host", "transcription_not_active"),
    )
    async def stop(self, services: Svc, participant: Caller, room_id: RoomId) -> TranscriptionState:
        return await services.transcription.stop(room_id, participant)

    @post(
        "/transcription/host",
        status_code=200,
        summary="Designate the transcription host (room host)",
        responses=answers(*HOST, "validation_failed", "participant_not_found"),
    )
    async def designate(
        self,
        data: JSONBody[DesignateHost],
        services: Svc,
        participant: Caller,
        room_id: RoomId,
    ) -> TranscriptionState:
        return await services.transcription.designate(room_id, participant, data.participant_id)

    @get(
        "/transcripts",
        summary="Final transcript segments, oldest first (participants; after the end, those "
        "who were in the meeting)",
        responses=answers(*MEMBER, "validation_failed"),
    )
    async def list_transcripts(
        self,
        services: Svc,
        participant: Caller,
        room_id: RoomId,
        after: Annotated[
            int | None,
            # A segment id is a PostgreSQL bigint: anything larger is no cursor (422, not 500).
            Parameter(ge=0, le=2**63 - 1, description="next_after of the page before"),
        ] = None,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 100,
    ) -> TranscriptPage:
        return await services.transcripts.page(room_id, participant, after=after, limit=limit)

    @delete(
        "/transcripts",
        status_code=200,
        summary="Delete the transcript for everyone (host; after the end, the last host)",
        responses=answers(*HOST),
    )
    async def delete_transcript(
        self, services: Svc, participant: Caller, room_id: RoomId
    ) -> TranscriptDeleted:
        return await services.transcripts.delete(room_id, participant)

    @get(
        "/transcripts/export",
        summary="The whole transcript as txt, srt, vtt or json (participants; after the end, "
        "those who were in the meeting)",
        operation_class=_ExportOperation,
        responses={
            200: ResponseSpec(
                list[TranscriptSegment],
                description="A download (`Content-Disposition: attachment`) in the format asked",
                generate_examples=False,
            ),
            **answers(*MEMBER, "validation_failed"),
        },
    )
    async def export(
        self,
        services: Svc,
        participant: Caller,
        room_id: RoomId,
        format: FromQuery[Literal["txt", "srt", "vtt", "json"]] = "txt",
    ) -> Response[Any]:
        body, media_type, filename = await services.transcripts.export(room_id, participant, format)
        # The media type goes in as a header, as is: given as `media_type`, Litestar would
        # append a second `charset=utf-8` to the text ones.
        return Response(
            body,
            headers={
                "Content-Type": media_type,
                "Content-Disposition": f'attachment; filename="{filename}"',
            },
        )


@websocket("/ws/transcribe")
async def transcribe_socket(socket: WebSocket[Any, Any, Any], services: Svc) -> None:
    """The transcription host's audio: binary PCM16 mono 16 kHz chunks; `?token=` from
    `POST /api/v1/rooms/{room}/transcription/start`."""
    await socket.accept()
    assert services.worker is not None, "the worker route is only mounted with a worker"
    await services.worker.serve(socket)
