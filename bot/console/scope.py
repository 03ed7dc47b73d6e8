"""What part of the archive a visitor's pages read: their own community (as `/cop search`
does in chat), and of its private channels only those they belong to."""

from __future__ import annotations

from dataclasses import replace

from bot.console.ports import ThreadReader
from bot.console.web import Visitor
from bot.records import ArchiveFilter
from bot.visibility import Visibility


class Scopes:
    def __init__(self, visibility: Visibility, threads: ThreadReader) -> None:
        self._visibility = visibility
        self._threads = threads

    async def of(self, visitor: Visitor) -> ArchiveFilter:
        platform = visitor.user.platform
        # The workspace (or tenant) they asked for the console in. Signed in from the
        # server or the playground: the platform's busiest, or, none kept yet, its own,
        # empty, so other platforms' messages never show.
        workspace = visitor.session.workspace
        if not workspace:
            workspaces = await self._threads.workspaces(platform)
            workspace = workspaces[0] if workspaces else ""
        return ArchiveFilter(
            workspace=(platform, workspace),
            viewer_channels=await self._visibility.channels_of(visitor.user),
        )

    @staticmethod
    def narrowed(chosen: ArchiveFilter, scope: ArchiveFilter) -> ArchiveFilter:
        """What the visitor chose, within what they may read."""
        return replace(chosen, workspace=scope.workspace, viewer_channels=scope.viewer_channels)
