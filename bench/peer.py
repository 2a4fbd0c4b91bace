"""peer: moot's room chat against Prosody's MUC, the chat engine behind Jitsi Meet.

Both servers run side by side on this machine, each driven by the same lean client model:
one WebSocket per participant (the `websockets` library, no compression on either side), a
chat message per frame, the same payloads (`<phase>:<send time in ns>`), the same room sizes
and message counts. moot speaks its room socket (`/ws/chat/{room}`, JSON frames); Prosody
speaks XMPP over WebSocket (bench/xmpp.py). Runs alternate between the two servers, so a
drift of the shared machine's speed hits both alike.

Per room size, in one room of S participants with one sender:

- **settle**: one message that everyone must receive before anything is measured: by then
  every frame of the set-up (the presence of each joiner) has been read on every socket.
- **paced**: messages at a fixed rate (the same for both servers, below either's saturation),
  for the latency of each delivery.
- **saturated**: a fixed number of messages, the sender keeping a window of them in flight
  (it sends the next when it receives one of its own back), so the server is never idle and its
  queues stay bounded. Deliveries per second from the first send to the last delivery, and the
  server's CPU time per delivery (moot: its process, PostgreSQL and Valkey; Prosody: its one
  process), from /proc.

And **join**: `concurrency` joiners at a time over `rooms` rooms that exist beforehand, each
join timed from the first byte to the moment the joiner could show the room:
- moot: issue an identity, join the room, open its socket until `ready`, then read the
  participant list (what the web client does on "Join");
- Prosody: open an XMPP WebSocket, anonymous login, bind, and enter the room until the room
  reflects the joiner's own presence (after the presence of everyone already there: the MUC
  participant list).
Every joiner stays connected until the run ends, so rooms fill as in a meeting.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from websockets.asyncio.client import ClientConnection, connect

from bench.cpu import cpu_seconds, process_cpu_seconds
from bench.http import Connection
from bench.prosody import DOMAIN, FANOUT_DOMAIN, MUC_DOMAIN, ProsodyProcess, installed
from bench.server import MootProcess
from bench.xmpp import XmppClient, groupchat_body

# What has not arrived this long after the last delivery of a phase is lost.
STALL_SECONDS = 10.0


def _say(text: str) -> None:
    """Progress on stderr: a full comparison takes minutes."""
    print(f"peer {time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)


async def quiesce(server: Server, limit: float = 60.0) -> None:
    """Wait until the server's processes are idle (under 10% of a core for half a second):
    the previous run's teardown (hundreds of leaves, each announced to the rest of the room)
    must not be measured as part of the next run."""
    started = time.perf_counter()
    before = sum(server.cpu_seconds().values())
    while time.perf_counter() - started < limit:
        await asyncio.sleep(0.5)
        now = sum(server.cpu_seconds().values())
        if now - before < 0.05:
            return
        before = now


# -- the two servers behind one interface ---------------------------------------------------


class Participant(Protocol):
    async def say(self, content: str) -> None: ...

    def heard(self) -> AsyncIterator[str]:
        """The content of every chat message this participant receives, in order."""
        ...

    async def close(self) -> None: ...


class Joiner(Protocol):
    """One joiner's connection to the server's HTTP side (moot) or nothing (XMPP)."""

    async def join(self, room: str, n: int) -> Participant: ...

    async def close(self) -> None: ...


class Server(Protocol):
    name: str

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds so far of each of the server's processes."""
        ...

    async def room(self, size: int) -> list[Participant]:
        """A fresh room with `size` participants connected; the first will send."""
        ...

    async def rooms(self, count: int) -> tuple[list[str], list[Participant]]:
        """`count` fresh rooms for joiners to join, and whatever keeps them open."""
        ...

    async def joiner(self) -> Joiner: ...


class MootParticipant:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def say(self, content: str) -> None:
        await self.ws.send(json.dumps({"type": "message.send", "content": content}))

    async def heard(self) -> AsyncIterator[str]:
        async for raw in self.ws:
            if isinstance(raw, str) and '"message.created"' in raw:
                content: str = json.loads(raw)["message"]["content"]
                yield content

    async def close(self) -> None:
        await self.ws.close()


class MootJoiner:
    """A keep-alive HTTP connection (bench/http.py) and a socket per join."""

    def __init__(self, server: Moot, http: Connection) -> None:
        self.server = server
        self.http = http

    async def join(self, room: str, n: int) -> Participant:
        token = await self.server.identity(self.http)
        headers = {"X-Participant-ID": token}
        status, body = await self.http.request(
            "POST", f"/api/v1/rooms/{room}/join", b'{"display_name":"g%d"}' % n, headers
        )
        if status != 200:
            raise RuntimeError(f"join answered {status}: {body!r}")
        participant = await self.server.socket(room, token)
        status, body = await self.http.request(
            "GET", f"/api/v1/rooms/{room}/participants", headers=headers
        )
        if status != 200 or not json.loads(body)["items"]:
            raise RuntimeError(f"participant list answered {status}: {body!r}")
        return participant

    async def close(self) -> None:
        await self.http.close()


class Moot:
    name = "moot"

    def __init__(self, process: MootProcess) -> None:
        self.process = process

    def cpu_seconds(self) -> dict[str, float]:
        totals = cpu_seconds(self.process.pid, self.process.data_dir)
        del totals["driver"]
        return totals

    async def identity(self, http: Connection) -> str:
        status, body = await http.request("POST", "/api/v1/identity")
        if status != 201:
            raise RuntimeError(f"identity answered {status}: {body!r}")
        token: str = json.loads(body)["token"]
        return token

    async def create_room(self, http: Connection, size: int) -> tuple[str, str]:
        """A room with up to `size` participants: its code and its host's token."""
        host = await self.identity(http)
        status, body = await http.request(
            "POST",
            "/api/v1/rooms",
            json.dumps({"max_participants": max(size, 2)}).encode(),
            {"X-Participant-ID": host},
        )
        if status != 201:
            raise RuntimeError(f"room creation answered {status}: {body!r}")
        code: str = json.loads(body)["code"]
        return code, host

    async def socket(self, room: str, token: str) -> MootParticipant:
        ws = await connect(
            f"{self.process.ws_url}/ws/chat/{room}?token={token}",
            compression=None,
            max_queue=None,
        )
        first = json.loads(await ws.recv())
        if first.get("type") != "ready":
            await ws.close()
            raise RuntimeError(f"the room socket opened with {first}")
        return MootParticipant(ws)

    async def room(self, size: int) -> list[Participant]:
        http = await Connection.open("127.0.0.1", self.process.port)
        try:
            code, host = await self.create_room(http, size)
            tokens = [host]
            for n in range(size - 1):
                token = await self.identity(http)
                status, body = await http.request(
                    "POST",
                    f"/api/v1/rooms/{code}/join",
                    b'{"display_name":"s%d"}' % n,
                    {"X-Participant-ID": token},
                )
                if status != 200:
                    raise RuntimeError(f"join answered {status}: {body!r}")
                tokens.append(token)
        finally:
            await http.close()
        return [await self.socket(code, token) for token in tokens]

    async def rooms(self, count: int) -> tuple[list[str], list[Participant]]:
        http = await Connection.open("127.0.0.1", self.process.port)
        try:
            codes = [(await self.create_room(http, 1000))[0] for _ in range(count)]
        finally:
            await http.close()
        return codes, []  # a moot room stays open without anyone connected

    async def joiner(self) -> Joiner:
        return MootJoiner(self, await Connection.open("127.0.0.1", self.process.port))


class XmppParticipant:
    def __init__(self, client: XmppClient, room: str) -> None:
        self.client = client
        self.room = room

    async def say(self, content: str) -> None:
        await self.client.groupchat(self.room, content)

    async def heard(self) -> AsyncIterator[str]:
        async for frame in self.client.ws:
            body = groupchat_body(frame) if isinstance(frame, str) else None
            if body is not None:
                yield body

    async def close(self) -> None:
        await self.client.close()


class ProsodyJoiner:
    def __init__(self, server: Prosody) -> None:
        self.server = server

    async def join(self, room: str, n: int) -> Participant:
        return await self.server.enter(room, f"g{n}")

    async def close(self) -> None:
        pass


class Prosody:
    name = "prosody"

    def __init__(self, process: ProsodyProcess) -> None:
        self.process = process

    def cpu_seconds(self) -> dict[str, float]:
        return {"prosody": process_cpu_seconds(self.process.pid)}

    async def enter(self, room: str, nick: str) -> XmppParticipant:
        client = await XmppClient.connect(self.process.ws_url, DOMAIN)
        try:
            await client.enter(room, nick)
        except BaseException:
            await client.close()
            raise
        return XmppParticipant(client, room)

    def new_room(self, domain: str = MUC_DOMAIN) -> str:
        return f"r{uuid.uuid4().hex[:12]}@{domain}"

    async def room(self, size: int) -> list[Participant]:
        room = self.new_room(FANOUT_DOMAIN)  # joins not announced: see bench/prosody.py
        return [await self.enter(room, f"s{n}") for n in range(size)]

    async def rooms(self, count: int) -> tuple[list[str], list[Participant]]:
        # A MUC room exists while someone is in it: a host stays in each, as moot's host
        # holds a seat in each of moot's rooms.
        names = [self.new_room() for _ in range(count)]
        hosts: list[Participant] = [await self.enter(name, "host") for name in names]
        return names, hosts

    async def joiner(self) -> Joiner:
        return ProsodyJoiner(self)


# -- fan-out ----------------------------------------------------------------------------------


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


@dataclass
class Phase:
    """The deliveries of one phase's messages, counted as they arrive on every socket."""

    received: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    last_arrival: float = 0.0  # perf_counter
    expected: int | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def arrived(self, sent_ns: int) -> None:
        self.latencies_ms.append((time.time_ns() - sent_ns) / 1e6)
        self.received += 1
        self.last_arrival = time.perf_counter()
        if self.expected is not None and self.received >= self.expected:
            self.done.set()

    async def finish(self, expected: int) -> None:
        """Wait until `expected` deliveries have arrived or none has for STALL_SECONDS."""
        self.expected = expected
        self.last_arrival = max(self.last_arrival, time.perf_counter())
        while self.received < expected:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.done.wait(), 1.0)
            if time.perf_counter() - self.last_arrival > STALL_SECONDS:
                return


@dataclass
class FanoutRun:
    server: str
    size: int
    paced_rate: float  # messages per second
    paced_messages: int
    paced_lost: int
    latency_p50_ms: float
    latency_p99_ms: float
    messages: int  # saturated
    window: int
    deliveries: int
    lost: int
    seconds: float
    deliveries_per_second: float
    cpu_us_per_delivery: dict[str, float]  # each server process, and the driver


async def run_fanout(
    server: Server, size: int, messages: int, paced_rate: float, paced_seconds: float
) -> FanoutRun:
    began = time.perf_counter()
    people = await server.room(size)
    _say(f"{server.name}: a room of {size} ready in {time.perf_counter() - began:.1f} s")
    sender = people[0]
    phases: dict[str, Phase] = {"w": Phase(), "p": Phase(), "t": Phase()}
    # About 5,000 deliveries in flight: enough that the server never waits for the driver,
    # few enough that no socket's queue nears moot's slow-client limit (512 frames).
    window_size = max(8, min(100, 5000 // size))
    window = asyncio.Semaphore(window_size)

    async def listen(participant: Participant, sends: bool) -> None:
        async for content in participant.heard():
            tag, _, stamp = content.partition(":")
            phases[tag].arrived(int(stamp))
            if sends and tag == "t":
                window.release()

    listeners = [
        asyncio.create_task(listen(p, p is sender), name=f"listen-{n}")
        for n, p in enumerate(people)
    ]
    try:
        await sender.say(f"w:{time.time_ns()}")
        await phases["w"].finish(size)
        if phases["w"].received < size:
            raise RuntimeError(f"{server.name}: the settling message reached only some sockets")

        interval = 1.0 / paced_rate
        paced = max(1, round(paced_rate * paced_seconds))
        start = time.perf_counter()
        for n in range(paced):
            await sender.say(f"p:{time.time_ns()}")
            delay = start + (n + 1) * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        await phases["p"].finish(paced * size)

        cpu_before = server.cpu_seconds()
        driver_before = process_cpu_seconds(os.getpid())
        started = time.perf_counter()
        for _ in range(messages):
            await window.acquire()
            await sender.say(f"t:{time.time_ns()}")
        saturated = phases["t"]
        await saturated.finish(messages * size)
        elapsed = max(saturated.last_arrival - started, 1e-9)
        cpu_after = server.cpu_seconds()
        driver = process_cpu_seconds(os.getpid()) - driver_before
    finally:
        for task in listeners:
            task.cancel()
        await asyncio.gather(*listeners, return_exceptions=True)
        await asyncio.gather(*(p.close() for p in people), return_exceptions=True)
        await quiesce(server)
    _say(
        f"{server.name}: {saturated.received:,} deliveries in {elapsed:.2f} s, paced p99 "
        f"{_percentile(phases['p'].latencies_ms, 0.99):.1f} ms; all done "
        f"{time.perf_counter() - began:.1f} s after the set-up began"
    )
    delivered = max(saturated.received, 1)
    cpu = {kind: cpu_after[kind] - cpu_before[kind] for kind in cpu_after}
    cpu_us = {kind: round(seconds / delivered * 1e6, 2) for kind, seconds in cpu.items()}
    cpu_us["server"] = round(sum(cpu.values()) / delivered * 1e6, 2)
    cpu_us["driver"] = round(driver / delivered * 1e6, 2)
    return FanoutRun(
        server=server.name,
        size=size,
        paced_rate=paced_rate,
        paced_messages=paced,
        paced_lost=paced * size - phases["p"].received,
        latency_p50_ms=round(statistics.median(phases["p"].latencies_ms), 2),
        latency_p99_ms=round(_percentile(phases["p"].latencies_ms, 0.99), 2),
        messages=messages,
        window=window_size,
        deliveries=saturated.received,
        lost=messages * size - saturated.received,
        seconds=round(elapsed, 3),
        deliveries_per_second=round(saturated.received / elapsed, 1),
        cpu_us_per_delivery=cpu_us,
    )


# -- join -------------------------------------------------------------------------------------


@dataclass
class JoinRun:
    server: str
    joins: int
    rooms: int
    concurrency: int
    seconds: float
    joins_per_second: float
    latency_p50_ms: float
    latency_p99_ms: float
    errors: int
    cpu_us_per_join: dict[str, int]


async def run_joins(server: Server, joins: int, rooms: int, concurrency: int) -> JoinRun:
    names, keepers = await server.rooms(rooms)
    joiners = [await server.joiner() for _ in range(concurrency)]
    pending = iter(range(joins))
    joined: list[Participant] = []
    latencies: list[float] = []
    errors = 0

    async def work(joiner: Joiner) -> None:
        nonlocal errors
        for n in pending:
            started = time.perf_counter()
            try:
                joined.append(await joiner.join(names[n % rooms], n))
            except Exception:
                errors += 1
                continue
            latencies.append((time.perf_counter() - started) * 1000)

    cpu_before = server.cpu_seconds()
    driver_before = process_cpu_seconds(os.getpid())
    started = time.perf_counter()
    try:
        await asyncio.gather(*(work(joiner) for joiner in joiners))
        seconds = time.perf_counter() - started
        cpu_after = server.cpu_seconds()
        driver = process_cpu_seconds(os.getpid()) - driver_before
    finally:
        await asyncio.gather(*(j.close() for j in joiners), return_exceptions=True)
        await asyncio.gather(*(p.close() for p in joined + keepers), return_exceptions=True)
        await quiesce(server)
    _say(f"{server.name}: {len(latencies)} joins in {seconds:.2f} s, {errors} errors")
    cpu = {kind: cpu_after[kind] - cpu_before[kind] for kind in cpu_after}
    cpu_us = {kind: round(value / joins * 1e6) for kind, value in cpu.items()}
    cpu_us["server"] = round(sum(cpu.values()) / joins * 1e6)
    cpu_us["driver"] = round(driver / joins * 1e6)
    return JoinRun(
        server=server.name,
        joins=joins,
        rooms=rooms,
        concurrency=concurrency,
        seconds=round(seconds, 3),
        joins_per_second=round(len(latencies) / seconds, 1),
        latency_p50_ms=round(statistics.median(latencies), 2) if latencies else float("nan"),
        latency_p99_ms=round(_percentile(latencies, 0.99), 2),
        errors=errors,
        cpu_us_per_join=cpu_us,
    )


# -- the comparison ----------------------------------------------------------------------------

# (room size, saturated messages, paced messages per second). The saturated phase delivers
# 60,000 messages at every size. The paced load is 1,000 deliveries/s at every size, the same
# for both servers: well below either's saturation here (Prosody's is the lower: about 3,000
# deliveries/s in a room of 500 when the machine is busy).
SIZES = [(50, 1200, 20.0), (200, 300, 5.0), (500, 120, 2.0)]
SMOKE_SIZES = [(5, 40, 20.0)]
JOIN = (1000, 50, 50)  # joins, rooms, joiners in flight
SMOKE_JOIN = (20, 4, 5)


def _median(runs: list[Any], key: str) -> dict[str, Any]:
    """The run with the median `key`, with every run's `key` and losses alongside."""
    ordered = sorted(runs, key=lambda run: getattr(run, key))
    chosen = asdict(ordered[len(ordered) // 2])
    chosen["runs"] = len(runs)
    chosen[f"all_{key}"] = [getattr(run, key) for run in runs]
    return chosen


def _ratio(ours: float, theirs: float) -> float:
    return round(ours / theirs, 2) if theirs else float("nan")


async def _compare(
    moot: Moot, prosody: Prosody, smoke: bool, paced_seconds: float, repeat: int
) -> dict[str, Any]:
    both: tuple[Server, Server] = (moot, prosody)
    fanout = []
    for size, messages, rate in SMOKE_SIZES if smoke else SIZES:
        runs: dict[str, list[FanoutRun]] = {"moot": [], "prosody": []}
        for round_ in range(repeat):
            for server in both if round_ % 2 == 0 else both[::-1]:
                runs[server.name].append(
                    await run_fanout(server, size, messages, rate, paced_seconds)
                )
        chosen = {name: _median(results, "deliveries_per_second") for name, results in runs.items()}
        for name, results in runs.items():
            chosen[name]["all_latency_p99_ms"] = [r.latency_p99_ms for r in results]
            chosen[name]["lost"] = sum(r.lost for r in results)
            chosen[name]["paced_lost"] = sum(r.paced_lost for r in results)
        ours, theirs = chosen["moot"], chosen["prosody"]
        fanout.append(
            {
                "size": size,
                "moot": ours,
                "prosody": theirs,
                "ratio": {
                    "deliveries_per_second": _ratio(
                        ours["deliveries_per_second"], theirs["deliveries_per_second"]
                    ),
                    "cpu_per_delivery": _ratio(
                        ours["cpu_us_per_delivery"]["server"],
                        theirs["cpu_us_per_delivery"]["server"],
                    ),
                    "latency_p50": _ratio(ours["latency_p50_ms"], theirs["latency_p50_ms"]),
                    "latency_p99": _ratio(ours["latency_p99_ms"], theirs["latency_p99_ms"]),
                },
            }
        )
    joins, rooms, concurrency = SMOKE_JOIN if smoke else JOIN
    join_runs: dict[str, list[JoinRun]] = {"moot": [], "prosody": []}
    for server in both:  # warm-up: the first joins on a fresh server take first-use paths
        await run_joins(server, joins // 5, rooms, concurrency)
    for round_ in range(repeat):
        for server in both if round_ % 2 == 0 else both[::-1]:
            join_runs[server.name].append(await run_joins(server, joins, rooms, concurrency))
    join = {name: _median(results, "joins_per_second") for name, results in join_runs.items()}
    for name, joined in join_runs.items():
        join[name]["errors"] = sum(r.errors for r in joined)
        join[name]["all_latency_p99_ms"] = [r.latency_p99_ms for r in joined]
    join["ratio"] = {
        "joins_per_second": _ratio(
            join["moot"]["joins_per_second"], join["prosody"]["joins_per_second"]
        ),
        "cpu_per_join": _ratio(
            join["moot"]["cpu_us_per_join"]["server"], join["prosody"]["cpu_us_per_join"]["server"]
        ),
    }
    return {"fanout": fanout, "join": join}


def peer(moot: MootProcess, smoke: bool, paced_seconds: float, repeat: int) -> dict[str, Any]:
    """The comparison against Prosody, or why it was skipped (never an error of the bench)."""
    executable = installed()
    if executable is None:
        return {"skipped": "prosody is not installed (Debian: apt-get install prosody)"}
    with contextlib.ExitStack() as stack:
        try:
            prosody = stack.enter_context(ProsodyProcess())
        except RuntimeError as exc:
            return {"skipped": f"prosody could not start: {exc}"}
        result = asyncio.run(_compare(Moot(moot), Prosody(prosody), smoke, paced_seconds, repeat))
        result["prosody_version"] = _version(executable)
        return result


def _version(executable: str) -> str:
    """The Debian package's version if dpkg knows it, else the executable's path."""
    try:
        query = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", "prosody"],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:  # not a Debian system
        return executable
    return query.stdout.strip() or executable


# -- the report -------------------------------------------------------------------------------


def _cpu(run: dict[str, Any]) -> str:
    kinds = run["cpu_us_per_delivery"]
    parts = [f"{kinds[k]:g}" for k in kinds if k not in ("server", "driver")]
    return f"**{kinds['server']:g}**" + (f" ({' + '.join(parts)})" if len(parts) > 1 else "")


def markdown(report: dict[str, Any]) -> str:
    lines = ["#### against Prosody's MUC (the chat engine behind Jitsi Meet)", ""]
    if "skipped" in report:
        return "\n".join([*lines, f"Skipped: {report['skipped']}."])
    lines += [
        f"Prosody {report['prosody_version']}, anonymous login, MUC, XMPP over WebSocket on "
        "loopback; moot as above. Both driven by the same client model (one WebSocket per "
        "participant), runs alternating; median run by deliveries/s (joins/s), p99 of every "
        "run in brackets. Ratios are moot ÷ Prosody.",
        "",
        "Saturated: the sender keeps a window of messages in flight; deliveries/s from the "
        "first send to the last delivery; server CPU per delivery (moot: moot + PostgreSQL + "
        "Valkey).",
        "",
        "| room | messages × sockets | moot deliveries/s | Prosody deliveries/s | ratio "
        "| moot CPU µs/delivery | Prosody CPU µs/delivery | ratio | lost (moot / Prosody) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for size in report["fanout"]:
        ours, theirs, ratio = size["moot"], size["prosody"], size["ratio"]
        lines.append(
            f"| {size['size']} | {ours['messages']:,} × {size['size']} "
            f"| {ours['deliveries_per_second']:,.0f} "
            f"[{', '.join(f'{v:,.0f}' for v in ours['all_deliveries_per_second'])}] "
            f"| {theirs['deliveries_per_second']:,.0f} "
            f"[{', '.join(f'{v:,.0f}' for v in theirs['all_deliveries_per_second'])}] "
            f"| **{ratio['deliveries_per_second']}×** | {_cpu(ours)} | {_cpu(theirs)} "
            f"| **{ratio['cpu_per_delivery']}×** | {ours['lost']} / {theirs['lost']} |"
        )
    lines += [
        "",
        "Paced: the same rate on both; latency of each delivery, send to receipt.",
        "",
        "| room | messages/s (deliveries/s) | moot p50 / p99 ms | Prosody p50 / p99 ms "
        "| ratio p50 / p99 | lost (moot / Prosody) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for size in report["fanout"]:
        ours, theirs, ratio = size["moot"], size["prosody"], size["ratio"]
        p99s = ", ".join(f"{v:g}" for v in ours["all_latency_p99_ms"])
        their_p99s = ", ".join(f"{v:g}" for v in theirs["all_latency_p99_ms"])
        lines.append(
            f"| {size['size']} | {ours['paced_rate']:g} ({ours['paced_rate'] * size['size']:,.0f}) "
            f"| {ours['latency_p50_ms']} / {ours['latency_p99_ms']} [{p99s}] "
            f"| {theirs['latency_p50_ms']} / {theirs['latency_p99_ms']} [{their_p99s}] "
            f"| {ratio['latency_p50']}× / {ratio['latency_p99']}× "
            f"| {ours['paced_lost']} / {theirs['paced_lost']} |"
        )
    join = report["join"]
    ours, theirs = join["moot"], join["prosody"]
    lines += [
        "",
        f"Join, {ours['joins']:,} joins over {ours['rooms']} rooms, {ours['concurrency']} "
        "joiners in flight (moot: identity + join + socket `ready` + participant list; "
        "Prosody: connect + SASL ANONYMOUS + bind + MUC presence until the self-presence):",
        "",
        "| server | joins/s [all runs] | p50 ms | p99 ms [all runs] | errors "
        "| server CPU µs per join |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for run in (ours, theirs):
        cpu = run["cpu_us_per_join"]
        parts = " + ".join(f"{cpu[k]}" for k in cpu if k not in ("server", "driver"))
        lines.append(
            f"| {run['server']} | {run['joins_per_second']:,.0f} "
            f"[{', '.join(f'{v:,.0f}' for v in run['all_joins_per_second'])}] "
            f"| {run['latency_p50_ms']} | {run['latency_p99_ms']} "
            f"[{', '.join(f'{v:g}' for v in run['all_latency_p99_ms'])}] | {run['errors']} "
            f"| {cpu['server']}" + (f" ({parts})" if "+" in parts else "") + " |"
        )
    lines += [
        "",
        f"moot ÷ Prosody: **{join['ratio']['joins_per_second']}×** joins/s, "
        f"{join['ratio']['cpu_per_join']}× server CPU per join.",
    ]
    return "\n".join(lines)
