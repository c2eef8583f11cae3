"""A minimal aiohttp server for the round-trip benchmarks, run in its own process.

``/full/api/v9/...`` answers with the full body, ``/typical/api/v9/...`` with the typical one; POSTs
answer 200 with a plain string, as Toggl does. Prints its port, then serves until killed."""

from __future__ import annotations

import asyncio
import os
import sys

from aiohttp import web

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.payloads import FULL, LIVE_FULL, TYPICAL


def make_app() -> web.Application:
    async def get_full(_: web.Request) -> web.Response:
        return web.Response(body=FULL, content_type="application/json")

    async def get_typical(_: web.Request) -> web.Response:
        return web.Response(body=TYPICAL, content_type="application/json")

    async def get_live_full(_: web.Request) -> web.Response:
        return web.Response(body=LIVE_FULL, content_type="application/json")

    async def post(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=b'"Successful operation."', content_type="application/json")

    app = web.Application()
    for prefix, handler in (("full", get_full), ("typical", get_typical), ("live-full", get_live_full)):
        app.router.add_get(f"/{prefix}/api/v9/me/preferences", handler)
        app.router.add_post(f"/{prefix}/api/v9/me/preferences", post)
    return app


async def serve(cpu: int | None) -> None:
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})
    runner = web.AppRunner(make_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(port, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]) if len(sys.argv) > 1 else None))
