"""A small XMPP client over WebSocket (RFC 7395), enough to take part in a MUC room.

What a chat participant does: open the stream, log in with SASL ANONYMOUS (RFC 6120, XEP-0175),
bind a resource, enter a room (XEP-0045) and send and receive groupchat messages. Under RFC 7395
every WebSocket message carries exactly one complete element, so no streaming XML parser is
needed: the handshake's few frames are parsed whole with ElementTree, and the hot path, a
groupchat message's body, is read with one regular expression, as cheaply as the moot side of
the bench reads its JSON frames (the driver shares the machine with the server it measures).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape, quoteattr, unescape

from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

FRAMING = "urn:ietf:params:xml:ns:xmpp-framing"
STREAMS = "http://etherx.jabber.org/streams"
SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
BIND = "urn:ietf:params:xml:ns:xmpp-bind"
MUC = "http://jabber.org/protocol/muc"
MUC_USER = "http://jabber.org/protocol/muc#user"

_BODY = re.compile(r"<body(?:\s[^>]*)?>([^<]*)</body>")


class XmppError(Exception):
    pass


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def groupchat_body(frame: str) -> str | None:
    """The body of a groupchat message frame; None for any other frame (presence, subject)."""
    if not frame.startswith("<message") or "groupchat" not in frame:
        return None
    found = _BODY.search(frame)
    return unescape(found.group(1)) if found else None


class XmppClient:
    """One authenticated, bound XMPP session over its own WebSocket."""

    def __init__(self, ws: ClientConnection, domain: str) -> None:
        self.ws = ws
        self.domain = domain
        self.jid = ""

    @classmethod
    async def connect(cls, url: str, domain: str) -> XmppClient:
        """Open, authenticate anonymously and bind: a session ready to enter rooms."""
        ws = await connect(
            url, subprotocols=[Subprotocol("xmpp")], compression=None, max_queue=None
        )
        client = cls(ws, domain)
        try:
            await client._login()
        except BaseException:
            await ws.close()
            raise
        return client

    async def _login(self) -> None:
        features = await self._open()
        mechanisms = {m.text for m in features.iter(f"{{{SASL}}}mechanism")}
        if "ANONYMOUS" not in mechanisms:
            raise XmppError(f"the server offers no SASL ANONYMOUS: {sorted(map(str, mechanisms))}")
        await self.ws.send(f'<auth xmlns="{SASL}" mechanism="ANONYMOUS"/>')
        outcome = await self._element()
        if outcome.tag != f"{{{SASL}}}success":
            raise XmppError(f"anonymous login refused: {ET.tostring(outcome, 'unicode')}")
        # After SASL the stream restarts (RFC 6120 6.4.6): a new <open/>, new features.
        features = await self._open()
        if features.find(f"{{{BIND}}}bind") is None:
            raise XmppError("the server offers no resource binding")
        await self.ws.send(
            f'<iq xmlns="jabber:client" type="set" id="bind"><bind xmlns="{BIND}"/></iq>'
        )
        bound = await self._element()
        jid = bound.find(f"{{{BIND}}}bind/{{{BIND}}}jid")
        if bound.get("type") != "result" or jid is None or not jid.text:
            raise XmppError(f"bind failed: {ET.tostring(bound, 'unicode')}")
        self.jid = jid.text

    async def _open(self) -> ET.Element:
        """Open (or restart) the stream; the server's features."""
        await self.ws.send(f'<open xmlns="{FRAMING}" to="{self.domain}" version="1.0"/>')
        opened = await self._element()
        if opened.tag != f"{{{FRAMING}}}open":
            raise XmppError(f"expected <open/>, got {ET.tostring(opened, 'unicode')}")
        features = await self._element()
        if features.tag != f"{{{STREAMS}}}features":
            raise XmppError(f"expected stream features, got {ET.tostring(features, 'unicode')}")
        return features

    async def _element(self) -> ET.Element:
        raw = await self.ws.recv()
        element = ET.fromstring(raw)  # noqa: S314 - the bench's own Prosody on loopback
        if element.tag in (f"{{{FRAMING}}}close", f"{{{STREAMS}}}error"):
            raise XmppError(f"the server closed the stream: {raw!r}")
        return element

    async def enter(self, room: str, nick: str) -> list[str]:
        """Enter the MUC room `room` (a bare JID) as `nick`, without history; the occupants'
        JIDs, in the order the room announced them, once the room's presence for ourselves
        (status code 110) has arrived: that is when the join is complete."""
        await self.ws.send(
            f'<presence xmlns="jabber:client" to={quoteattr(f"{room}/{nick}")}>'
            f'<x xmlns="{MUC}"><history maxstanzas="0"/></x></presence>'
        )
        occupants = []
        while True:
            stanza = await self._element()
            if _local(stanza.tag) != "presence":
                continue  # the room's subject and others' messages can come first
            if stanza.get("type") == "error":
                raise XmppError(f"could not enter {room}: {ET.tostring(stanza, 'unicode')}")
            occupants.append(stanza.get("from", ""))
            codes = {s.get("code") for s in stanza.iter(f"{{{MUC_USER}}}status")}
            if "110" in codes:
                return occupants

    async def groupchat(self, room: str, body: str) -> None:
        await self.ws.send(
            f'<message xmlns="jabber:client" to={quoteattr(room)} type="groupchat">'
            f"<body>{escape(body)}</body></message>"
        )

    async def close(self) -> None:
        """End the stream (RFC 7395 <close/>), then the WebSocket."""
        try:
            await self.ws.send(f'<close xmlns="{FRAMING}"/>')
        finally:
            await self.ws.close()
