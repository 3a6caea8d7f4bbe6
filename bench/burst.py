"""Send a burst of requests, each exactly once, over keep-alive connections: the load generator of the contention
scenarios (flash sale, appointment, locker and activity rushes).

wrk replays a file for a duration; a rush needs each buyer's request sent once and every answer counted. The
``requests`` library did that from 32 threads at about a millisecond of client CPU per request, on the same two
cores as the server (a tenth of the flash sale's time was the client). This client writes HTTP/1.1 by hand on
asyncio streams (a few tens of microseconds per request) and reads answers by ``Content-Length``.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import urlsplit

#: Seconds to wait for a connection or an answer before counting the call as lost (status 0).
TIMEOUT = 60.0
#: One call: (method, path, headers, JSON body or None).
Call = tuple[str, str, dict[str, str], Any]


def send_all(base_url: str, calls: list[Call], connections: int = 32) -> tuple[float, list[tuple[int, Any]]]:
    """Send every call once over ``connections`` keep-alive connections: (seconds from the first send to the last
    answer, [(status, JSON answer or None)] in the order of ``calls``)."""
    return asyncio.run(_send_all(base_url, calls, connections))


async def _send_all(base_url: str, calls: list[Call], connections: int) -> tuple[float, list[tuple[int, Any]]]:
    url = urlsplit(base_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    answers: list[tuple[int, Any]] = [(0, None)] * len(calls)
    requests = [_request(host, port, *call) for call in calls]
    queue: asyncio.Queue[int] = asyncio.Queue()
    for number in range(len(calls)):
        queue.put_nowait(number)

    async def worker() -> None:
        streams = None
        while not queue.empty():
            number = queue.get_nowait()
            try:
                if streams is None:
                    streams = await asyncio.wait_for(asyncio.open_connection(host, port), TIMEOUT)
                streams[1].write(requests[number])
                answers[number] = await asyncio.wait_for(_answer(streams[0]), TIMEOUT)
            except (TimeoutError, OSError, EOFError, asyncio.IncompleteReadError, ValueError) as error:
                # A lost answer counts as status 0 (the report shows it); the next call opens a new connection.
                answers[number] = (0, repr(error))
                if streams is not None:
                    streams[1].close()
                streams = None
        if streams is not None:
            streams[1].close()

    started = time.perf_counter()  # connections are opened inside the timed burst, as a browser would
    await asyncio.gather(*(worker() for _ in range(min(connections, len(calls)) or 1)))
    return time.perf_counter() - started, answers


def _request(host: str, port: int, method: str, path: str, headers: dict[str, str], body: Any) -> bytes:
    data = json.dumps(body).encode() if body is not None else b""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(data)}"]
    if body is not None:
        lines.append("Content-Type: application/json")
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


async def _answer(reader: asyncio.StreamReader) -> tuple[int, Any]:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    if "content-length" not in headers:  # granian answers Flask with Content-Length; anything else is not ours
        raise ValueError(f"an answer without Content-Length: {status_line!r}")
    body = await reader.readexactly(int(headers["content-length"]))
    status = int(status_line.split()[1])
    try:
        return status, json.loads(body) if body else None
    except ValueError:
        return status, None
