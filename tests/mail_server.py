"""A real SMTP server on loopback for tests (aiosmtpd, in the test's event loop): it asks for
a login, as a mail provider would, and keeps every message it accepts for the test to read."""

from __future__ import annotations

import asyncio
import warnings
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from typing import Any, Self, cast

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

USERNAME = "moot-mailer"
PASSWORD = "smtp secret: with @ and /"  # URL-quoted in the SMTP URL


@dataclass(frozen=True)
class Delivered:
    sender: str
    recipients: list[str]
    message: EmailMessage


class MailServer:
    def __init__(self) -> None:
        self.inbox: asyncio.Queue[Delivered] = asyncio.Queue()
        # Cleared: the server holds every message at DATA until the test sets it again.
        self.accepting = asyncio.Event()
        self.accepting.set()
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        from urllib.parse import quote

        return f"smtp://{quote(USERNAME, safe='')}:{quote(PASSWORD, safe='')}@127.0.0.1:{self.port}"

    async def __aenter__(self) -> Self:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def _protocol(self) -> SMTP:
        with warnings.catch_warnings():
            # aiosmtpd warns of AUTH without TLS: this is loopback, and the login is a test's.
            warnings.simplefilter("ignore", UserWarning)
            return SMTP(
                self,
                hostname="mail.test",
                authenticator=_authenticate,
                auth_required=True,
                auth_require_tls=False,
            )

    async def __aexit__(self, *exc: object) -> None:
        self.accepting.set()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        await self.accepting.wait()
        parsed = BytesParser(policy=default).parsebytes(cast(bytes, envelope.content))
        self.inbox.put_nowait(
            Delivered(
                sender=str(envelope.mail_from),
                recipients=list(envelope.rcpt_tos),
                message=parsed,
            )
        )
        return "250 Message accepted"

    async def next_mail(self, timeout: float = 5) -> Delivered:
        async with asyncio.timeout(timeout):
            return await self.inbox.get()


def _authenticate(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USERNAME.encode()
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)
