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
        # One community per copbot: one workspace (or tenant) a platform. None kept yet:
        # the platform's own, empty, so other platforms' messages never show.
        workspaces = await self._threads.workspaces(platform)
        return ArchiveFilter(
            workspace=(platform, workspaces[0] if workspaces else ""),
            viewer_channels=await self._visibility.channels_of(visitor.user),
        )

    @staticmethod
    def narrowed(chosen: ArchiveFilter, scope: ArchiveFilter) -> ArchiveFilter:
        """What the visitor chose, within what they may read."""
        return replace(chosen, workspace=scope.workspace, viewer_channels=scope.viewer_channels)
