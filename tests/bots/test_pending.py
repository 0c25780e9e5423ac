"""The pending pair in Redis: when the GIF and the face arrive at once, one swap starts."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from bots.telegram.pending import PendingStore, TgFile

GIF = TgFile("gif-file", "gif-u", 1000, 10)
FACE = TgFile("face-file", "face-u", 500, 11)


def test_a_gif_and_a_face_arriving_together_complete_the_pair_exactly_once(
    redis_url: str,
) -> None:
    async def scenario() -> None:
        redis = Redis.from_url(redis_url)
        store = PendingStore(redis)
        try:
            for chat in range(200):  # many races, each on its own chat
                results = await asyncio.gather(
                    store.add(chat, 7, "gif", GIF), store.add(chat, 7, "face", FACE)
                )
                taken = [pair for pair, took in results if took]
                assert len(taken) == 1, results
                assert taken[0].gif == GIF and taken[0].face == FACE
                assert await store.take(chat, 7) == type(taken[0])()  # nothing left behind
        finally:
            await redis.aclose()

    asyncio.run(scenario())


def test_one_half_waits_for_the_other_and_a_newer_gif_replaces_the_older(redis_url: str) -> None:
    async def scenario() -> None:
        redis = Redis.from_url(redis_url)
        store = PendingStore(redis)
        try:
            pair, took = await store.add(1, 2, "gif", GIF)
            assert (pair.gif, pair.face, took) == (GIF, None, False)
            assert 0 < await redis.ttl("swapzy:tg:pending:1:2") <= 30 * 60  # forgotten in time
            newer = TgFile("gif-2", "gif-u2", 900, 12)
            pair, took = await store.add(1, 2, "gif", newer)
            assert (pair.gif, took) == (newer, False)
            pair, took = await store.add(1, 2, "face", FACE)
            assert (pair.gif, pair.face, took) == (newer, FACE, True)
            assert not await redis.exists("swapzy:tg:pending:1:2")  # the caller owns it now
        finally:
            await redis.aclose()

    asyncio.run(scenario())
