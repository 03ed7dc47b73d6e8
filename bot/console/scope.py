"""What part of the archive a visitor's pages read: their own community (as `/cop search`
does in chat), and of its private channels only those they belong to. When the platform
couldn't say for some channels, those are left out and the page says so."""

from __future__ import annotations

from dataclasses import dataclass, replace

from bot.console.ports import ThreadReader
from bot.console.web import Visitor
from bot.records import ArchiveFilter
from bot.visibility import View, Visibility

# The console speaks of copbot, where chat has copbot speak for itself.
UNSURE = (
    "copbot couldn't check which private channels you're in just now, so nothing from "
    "private channels is shown. Reload the page in a few minutes."
)
# Shown whether or not anything was left out, as in chat: never only when a hidden channel
# held something, which would tell someone outside it that it does.
PARTLY = (
    "copbot couldn't check who is in some channels just now, so their messages are left "
    "out. Reload the page in a few minutes."
)

# The same, above a list of what is in channels (schedules, feedback rounds).
UNSURE_LISTED = (
    "copbot couldn't check which private channels you're in just now, so nothing in "
    "private channels is listed. Reload the page in a few minutes."
)
PARTLY_LISTED = (
    "copbot couldn't check who is in some channels just now, so anything in them is left "
    "out of this list. Reload the page in a few minutes."
)


def listed_out(view: View) -> str:
    """Why a list of what is in channels may be missing some, when it may be."""
    return UNSURE_LISTED if not view.sure else "" if view.whole else PARTLY_LISTED


@dataclass(frozen=True)
class Scope:
    filter: ArchiveFilter
    left_out: str = ""  # why some channels' messages aren't shown, when some aren't
    listed_out: str = ""  # the same, for a list of schedules or rounds

    @staticmethod
    def of_view(f: ArchiveFilter, view: View) -> Scope:
        left_out = UNSURE if not view.sure else "" if view.whole else PARTLY
        return Scope(f, left_out, listed_out(view))


class Scopes:
    def __init__(self, visibility: Visibility, threads: ThreadReader) -> None:
        self._visibility = visibility
        self._threads = threads

    async def of(self, visitor: Visitor) -> Scope:
        platform = visitor.user.platform
        # The workspace (or tenant) they asked for the console in. Signed in from the
        # server or the playground: the platform's busiest, or, none kept yet, its own,
        # empty, so other platforms' messages never show.
        workspace = visitor.session.workspace
        if not workspace:
            workspaces = await self._threads.workspaces(platform)
            workspace = workspaces[0] if workspaces else ""
        view = await self._visibility.view_of(visitor.user)
        return Scope.of_view(
            ArchiveFilter(workspace=(platform, workspace), viewer_channels=view.channels), view
        )

    @staticmethod
    def narrowed(chosen: ArchiveFilter, scope: ArchiveFilter) -> ArchiveFilter:
        """What the visitor chose, within what they may read."""
        return replace(chosen, workspace=scope.workspace, viewer_channels=scope.viewer_channels)
