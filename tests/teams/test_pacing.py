"""Teams' limits kept by waiting a turn: no window ever holds more requests than its limit
(counted, as Teams counts, from arrival), and conversations don't wait for each other."""

from __future__ import annotations

import asyncio
import time

from adapters.teams.pacing import Pacer, Rate


def most_in_any_window(arrivals: list[float], per: float) -> int:
    return max(sum(1 for t in arrivals if start <= t < start + per) for start in arrivals)


async def test_one_conversation_never_exceeds_its_limit() -> None:
    pacer = Pacer(per_conversation=(Rate(3, 0.2),), per_app=())
    arrivals: list[float] = []

    async def request() -> None:
        async with pacer.turn("19:north@thread.tacv2;messageid=1"):
            arrivals.append(time.monotonic())
            await asyncio.sleep(0)  # the request's round trip

    await asyncio.gather(*(request() for _ in range(9)))
    assert len(arrivals) == 9 and most_in_any_window(arrivals, 0.2) == 3


async def test_a_busy_conversation_holds_no_other_up() -> None:
    pacer = Pacer(per_conversation=(Rate(1, 60.0),), per_app=())
    order: list[str] = []

    async def request(conversation: str, name: str) -> None:
        async with pacer.turn(conversation):
            order.append(name)

    await request("19:north@thread.tacv2", "north 1")
    # North's second request must wait a minute; London's goes meanwhile.
    waiting = asyncio.create_task(request("19:north@thread.tacv2;messageid=5", "north 2"))
    await request("19:london@thread.tacv2", "london 1")
    assert order == ["north 1", "london 1"] and not waiting.done()
    waiting.cancel()


async def test_the_app_wide_limit_holds_across_conversations() -> None:
    pacer = Pacer(per_conversation=(Rate(7, 1.0),), per_app=(Rate(4, 0.2),))
    arrivals: list[float] = []

    async def request(n: int) -> None:
        async with pacer.turn(f"19:c{n}@thread.tacv2"):
            arrivals.append(time.monotonic())
            await asyncio.sleep(0)

    await asyncio.gather(*(request(n) for n in range(12)))
    assert len(arrivals) == 12 and most_in_any_window(arrivals, 0.2) == 4


async def test_a_request_still_out_keeps_its_place_until_answered() -> None:
    pacer = Pacer(per_conversation=(Rate(1, 0.01),), per_app=())
    answered = asyncio.Event()
    order: list[str] = []

    async def slow() -> None:
        async with pacer.turn("19:north@thread.tacv2"):
            order.append("slow starts")
            await answered.wait()
            order.append("slow answered")

    async def next_one() -> None:
        async with pacer.turn("19:north@thread.tacv2"):
            order.append("next starts")

    first = asyncio.create_task(slow())
    await asyncio.sleep(0)
    second = asyncio.create_task(next_one())
    for _ in range(20):  # the window is long over, but the first request is still out
        await asyncio.sleep(0.001)
    assert order == ["slow starts"]
    answered.set()
    await asyncio.gather(first, second)
    assert order == ["slow starts", "slow answered", "next starts"]
