"""The bot's home (Slack's App Home tab): what is going on, for the person looking."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.chat import Chat, PlatformUnavailable
from bot.markup import escape
from bot.model import Context, HomeOpened, OutgoingMessage, Role, Text
from bot.ports import PromptRepository
from bot.registry import Registry
from bot.roles import Roles
from bot.services.prompts import PromptCatalogue
from bot.visibility import Visibility

LATEST = 5
# Posts read to find the latest the person may see: some may be in private channels.
LOOKED_AT = 50


class HomeFeature:
    def __init__(
        self,
        prompts: PromptRepository,
        catalogue: PromptCatalogue,
        roles: Roles,
        chat: Chat,
        timezone: ZoneInfo,
        visibility: Visibility,
    ) -> None:
        self._visibility = visibility
        self._tz = timezone  # a prompt posted at 00:30 in June was posted on the day it says
        self._prompts = prompts
        self._catalogue = catalogue
        self._roles = roles
        self._chat = chat

    def register(self, registry: Registry) -> None:
        registry.listen(HomeOpened, self.on_opened)

    async def on_opened(self, event: HomeOpened) -> None:
        await self._chat.publish_home(event.user, await self.home(event))

    async def home(self, event: HomeOpened) -> OutgoingMessage:
        prefix = self._chat.command_prefix(event.user.platform)
        library = await self._catalogue.current()
        posts = await self._prompts.recent(event.user.platform, LOOKED_AT)
        lines: list[str] = []
        for post in posts:
            if len(lines) == LATEST:
                break
            # A private channel's prompts (its name, what it talks of) are for its members,
            # as on the platform itself.
            if not await self._visibility.may_see(event.user, post.message.channel):
                continue
            prompt = library.prompt(post.prompt_id)
            title = escape(prompt.title) if prompt else post.prompt_id
            where = escape(post.message.channel.label)
            local = post.posted_at.astimezone(self._tz)
            when = f"{local.day} {local:%b}"
            try:
                link = await self._chat.permalink(post.message)
            except PlatformUnavailable:
                link = ""
            opened = f" · [join the thread]({link})" if link.startswith("http") else ""
            lines.append(f"• **{title}** in {where}, {when}{opened}")
        role = await self._roles.role_of(event.user.identity)
        blocks: list[Text | Context] = [
            Text("**Welcome to copbot**"),
            Text(
                "I post reflection prompts for our community of practice, and the "
                "conversation happens in each prompt's thread. None of us are experts; we "
                "each bring our own perspective."
            ),
            Text("**Latest reflection prompts**"),
            Text("\n".join(lines) if lines else "No prompts have been posted yet."),
        ]
        if role >= Role.FACILITATOR:
            blocks.append(
                Context(
                    f"You're {'a facilitator' if role is Role.FACILITATOR else 'an admin'}: "
                    f"`{prefix} prompt` posts the next prompt in a channel, and "
                    f"`{prefix} schedule prompt` sets up regular ones."
                )
            )
        blocks.append(Context(f"`{prefix} help` shows everything you can ask me."))
        return OutgoingMessage(tuple(blocks), fallback="copbot: the latest reflection prompts")
