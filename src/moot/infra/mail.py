"""Sending mail over SMTP (aiosmtplib), off the request that asked for it.

A request that sends mail only queues it: the answer does not wait for the SMTP server (nor
tell, by taking longer, that there was anything to send). A failed delivery is logged without
the message or its recipient; nothing retries it, the person asks again.
"""

from __future__ import annotations

import asyncio
import contextlib
from email.message import EmailMessage

import aiosmtplib
import structlog

from moot.settings import MailSettings

log = structlog.get_logger(__name__)
# aiosmtplib's start_tls: None upgrades if the server offers STARTTLS (smtp://), True insists
# (smtp+starttls://), False never tries (smtps://, already TLS).
_START_TLS: dict[str, bool | None] = {"none": None, "starttls": True, "implicit": False}


class Mailer:
    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings
        self._sending: set[asyncio.Task[None]] = set()

    def send_later(self, message: EmailMessage, kind: str) -> None:
        """Queue `message`; `kind` names it in the logs (the address never is)."""
        if "From" not in message:
            message["From"] = self.settings.sender
        task = asyncio.create_task(self._send(message, kind), name=f"moot-mail-{kind}")
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    @property
    def pending(self) -> int:
        """Messages queued and not yet handed to the SMTP server (or given up on)."""
        return len(self._sending)

    async def idle(self) -> None:
        """Wait until every queued message was handed over or given up on."""
        while self._sending:
            await asyncio.wait(set(self._sending))

    async def close(self, within_seconds: float) -> None:
        """On shutdown: let what is queued go out, for at most `within_seconds`."""
        if not self._sending:
            return
        _, late = await asyncio.wait(set(self._sending), timeout=within_seconds)
        for task in late:
            task.cancel()
        for task in late:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _send(self, message: EmailMessage, kind: str) -> None:
        settings = self.settings
        try:
            await aiosmtplib.send(
                message,
                hostname=settings.host,
                port=settings.port,
                username=settings.username,
                password=settings.password,
                use_tls=settings.tls == "implicit",
                start_tls=_START_TLS[settings.tls],
                timeout=settings.timeout_seconds,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            log.warning("mail_not_sent", kind=kind, error=type(exc).__name__)
        else:
            log.info("mail_sent", kind=kind)
