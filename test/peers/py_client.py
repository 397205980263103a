"""A Python `websockets` (10.x, legacy asyncio API) client for the peer tests.

Usage: /usr/bin/python3 py_client.py SCENARIO URL [ARG]

Prints one JSON object per line (each with a "step" key) for the Node test to assert on; any
unexpected exception is printed as {"step": "error", ...} and exits 1.
"""
import asyncio
import hashlib
import json
import os
import sys

import websockets

MULTIBYTE = "héllo wörld — Привет, 世界! 🎉🚀 \U0010FFFF ok"


def emit(step, **fields):
    print(json.dumps({"step": step, **fields}), flush=True)


def describe(sent, got):
    return {
        "sent_type": "str" if isinstance(sent, str) else "bytes",
        "got_type": "str" if isinstance(got, str) else "bytes",
        "sent_len": len(sent),
        "got_len": len(got),
        "equal": sent == got,
        "sha1": hashlib.sha1(got.encode() if isinstance(got, str) else got).hexdigest(),
    }


async def echo(ws, step, message):
    await ws.send(message)
    got = await ws.recv()
    emit(step, **describe(message, got))


def pattern(n):
    return bytes((i * 31 + 7) % 251 for i in range(n))


async def exchange(url, _arg):
    async with websockets.connect(url, max_size=None, compression=None, ping_interval=None) as ws:
        emit("open", subprotocol=ws.subprotocol, extensions=ws.response_headers.get("Sec-WebSocket-Extensions"))
        await echo(ws, "text", "hello from python")
        await echo(ws, "multibyte", MULTIBYTE)
        await echo(ws, "binary", bytes(range(256)))
        await echo(ws, "empty-text", "")
        await echo(ws, "empty-binary", b"")
        await echo(ws, "binary-64k", pattern(64 * 1024))
        await echo(ws, "text-64k", ("ü" * 32 * 1024))
        await echo(ws, "binary-1m", pattern(1024 * 1024))
        # A fragmented message: websockets sends an iterable as one message in several frames.
        await ws.send(["frag", "men", "ted ✓"])
        got = await ws.recv()
        emit("fragmented", **describe("fragmented ✓", got))
        pong_waiter = await ws.ping(b"py-ping")
        latency = await asyncio.wait_for(pong_waiter, 5)
        emit("ping", answered=True, latency_is_number=isinstance(latency, float))
        await ws.close(code=4000, reason="python says bye")
        emit("closed", code=ws.close_code, reason=ws.close_reason)


async def deflate(url, _arg):
    # compression="deflate" (the default) offers permessage-deflate; the server accepts or declines it.
    async with websockets.connect(url, max_size=None, ping_interval=None) as ws:
        emit("open", extensions=ws.response_headers.get("Sec-WebSocket-Extensions"))
        await echo(ws, "text", "a" * 10000)
        await echo(ws, "multibyte", MULTIBYTE * 300)
        await echo(ws, "binary-1m", pattern(1024 * 1024))
        await echo(ws, "random-1m", os.urandom(1024 * 1024))
        await ws.close()
        emit("closed", code=ws.close_code, reason=ws.close_reason)


async def subprotocol(url, arg):
    offered = arg.split(",")
    async with websockets.connect(url, subprotocols=offered, ping_interval=None) as ws:
        emit("open", subprotocol=ws.subprotocol)
        await echo(ws, "text", "with subprotocol")
        await ws.close()
        emit("closed", code=ws.close_code, reason=ws.close_reason)


async def too_big(url, arg):
    size = int(arg)
    async with websockets.connect(url, max_size=None, compression=None, ping_interval=None) as ws:
        emit("open")
        await echo(ws, "small", "x" * (size // 4))
        await ws.send(b"\x00" * size)
        try:
            got = await asyncio.wait_for(ws.recv(), 5)
            emit("unexpected-message", length=len(got))
        except websockets.exceptions.ConnectionClosed as closed:
            emit("closed", code=closed.rcvd.code if closed.rcvd else None, reason=closed.rcvd.reason if closed.rcvd else None)


async def wait_for_close(url, _arg):
    """Connects, says it is ready, and reports the Close the server sends (e.g. on SIGTERM)."""
    async with websockets.connect(url, compression=None, ping_interval=None) as ws:
        await echo(ws, "text", "ready")
        try:
            got = await asyncio.wait_for(ws.recv(), 10)
            emit("unexpected-message", length=len(got))
        except websockets.exceptions.ConnectionClosed as closed:
            emit("closed", code=closed.rcvd.code if closed.rcvd else None, reason=closed.rcvd.reason if closed.rcvd else None)


SCENARIOS = {
    "exchange": exchange,
    "deflate": deflate,
    "subprotocol": subprotocol,
    "too-big": too_big,
    "wait-for-close": wait_for_close,
}


def main():
    scenario, url = sys.argv[1], sys.argv[2]
    arg = sys.argv[3] if len(sys.argv) > 3 else ""
    try:
        asyncio.run(asyncio.wait_for(SCENARIOS[scenario](url, arg), 20))
    except Exception as error:  # report anything to the test, which prints it
        emit("error", type=type(error).__name__, message=str(error))
        sys.exit(1)


if __name__ == "__main__":
    main()
