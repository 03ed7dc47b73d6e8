"""People's and channels' names, looked up once and remembered.

Slack's events carry ids (``U123``, ``C456``); people read names. Names are looked up with
``users.info`` and ``conversations.info`` before an event is translated, which happens before
Slack hears back, so every lookup has a short time budget: what isn't known in time is
shown as its id this once, and the lookup carries on in the background for next time.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

CACHE_SIZE = 5000
_KINDS = {"u": "person", "c": "channel"}


class Directory:
    def __init__(self, client: AsyncWebClient, budget: float = 1.0) -> None:
        self._client = client
        self._budget = budget
        self._names: OrderedDict[str, str] = OrderedDict()
        self._pending: dict[str, asyncio.Task[None]] = {}

    def remember_channel(self, channel_id: str, name: str) -> None:
        if channel_id and name:
            self._keep(f"c:{channel_id}", name)

    def channel_name(self, channel_id: str) -> str:
        """The channel's name if already known; never waits."""
        return self._names.get(f"c:{channel_id}", "")

    async def names(
        self, user_ids: Iterable[str], channel_ids: Iterable[str]
    ) -> tuple[dict[str, str], dict[str, str]]:
        """People's and channels' names, looked up side by side within one budget; when
        every one is known already (nearly always), without a task or a wait."""
        users = {f"u:{i}": i for i in user_ids if i}
        channels = {f"c:{i}": i for i in channel_ids if i}
        waiting = [
            self._start(key, ident, self._user_name if key[0] == "u" else self._channel_name)
            for key, ident in (users | channels).items()
            if key not in self._names
        ]
        if waiting:
            # asyncio.wait never cancels: a lookup over the budget carries on and fills the cache.
            await asyncio.wait(waiting, timeout=self._budget)
        return self._found(users), self._found(channels)

    def _found(self, wanted: dict[str, str]) -> dict[str, str]:
        return {i: name for key, i in wanted.items() if (name := self._names.get(key, ""))}

    async def close(self) -> None:
        for task in list(self._pending.values()):
            task.cancel()
        await asyncio.gather(*self._pending.values(), return_exceptions=True)
        self._pending.clear()

    def _start(
        self, key: str, ident: str, fetch: Callable[[str], Awaitable[str]]
    ) -> asyncio.Task[None]:
        task = self._pending.get(key)
        if task is None:
            task = asyncio.create_task(self._fetch(key, ident, fetch), name=f"slack-name-{key}")
            self._pending[key] = task
        return task

    async def _fetch(self, key: str, ident: str, fetch: Callable[[str], Awaitable[str]]) -> None:
        try:
            self._keep(key, await fetch(ident))
        # The logs name neither the person nor the channel: a form's sender may be anonymous.
        except SlackApiError as e:
            # A definite answer (not found, no permission): show the id, and don't ask again.
            log.info("Slack gave no name for a %s (%s)", _KINDS[key[0]], e.response.get("error"))
            self._keep(key, "")
        except asyncio.CancelledError:
            raise
        except Exception as e:  # a network failure: try again next time
            log.warning("looking up a %s's name failed (%s)", _KINDS[key[0]], type(e).__name__)
        finally:
            self._pending.pop(key, None)

    def _keep(self, key: str, name: str) -> None:
        self._names[key] = name
        self._names.move_to_end(key)
        while len(self._names) > CACHE_SIZE:
            self._names.popitem(last=False)

    async def _user_name(self, user_id: str) -> str:
        user = (await self._client.users_info(user=user_id)).get("user") or {}
        profile = user.get("profile") or {}
        return str(
            profile.get("display_name")
            or profile.get("real_name")
            or user.get("real_name")
            or user.get("name")
            or ""
        )

    async def _channel_name(self, channel_id: str) -> str:
        channel = (await self._client.conversations_info(channel=channel_id)).get("channel") or {}
        return str(channel.get("name") or "")
