"""Reflection prompts: the library in chat, posting on demand, and prompts people add."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.chat import Chat
from bot.commands import Args, CommandError, UsageError, clip, did_you_mean
from bot.interaction import Interaction
from bot.markup import escape
from bot.model import (
    Button,
    ButtonPressed,
    Buttons,
    ChannelRef,
    Context,
    FormSubmitted,
    MessageRef,
    OutgoingMessage,
    Role,
    Text,
)
from bot.people import People
from bot.ports import Clock, PromptRepository, Suggestion
from bot.records import Prompt, PromptPost, ThreadContext, Topic
from bot.registry import PersonalData, Registry
from bot.rotation import next_prompt
from bot.services.anonymous_replies import REPLY
from bot.services.prompt_forms import (
    ADD_FORM,
    FORM_LABELS,
    SUGGEST_FORM,
    add_form,
    check_suggestion,
    echo,
    prompt_form_errors,
    prompt_from_form,
    suggest_form,
)
from bot.timefmt import UK, for_people
from prompts import Library

SUGGEST = "prompt.suggest"


class PromptCatalogue:
    """The shipped library plus the prompts facilitators added."""

    def __init__(self, library: Library, repository: PromptRepository) -> None:
        self._library = library
        self._repo = repository

    async def current(self) -> Library:
        return self._library.with_added(await self._repo.added())

    async def choose(self, channel: ChannelRef, topic: str | None) -> tuple[Prompt, Topic | None]:
        """The next prompt for ``channel`` in rotation (from one topic, or all), and its topic."""
        library = await self.current()
        candidates = library.prompts
        if topic is not None:
            found = library.topic(topic)
            if found is None:
                raise CommandError(_no_topic(topic, library))
            candidates = found.prompts
        prompt = next_prompt(candidates, await self._repo.history(channel))
        if prompt is None:
            raise CommandError("There are no prompts to choose from yet.")
        return prompt, library.topic(prompt.topic)


class PromptThreads:
    """Tells the archive which threads are prompt threads, and of which prompt."""

    def __init__(self, repository: PromptRepository) -> None:
        self._repo = repository
        # A prompt post never changes, so once found it is remembered (a busy thread asks
        # for every reply); what is not found yet may be recorded in a moment, so it isn't.
        self._found: dict[MessageRef, ThreadContext] = {}

    async def thread_context(self, root: MessageRef) -> ThreadContext | None:
        if root in self._found:
            return self._found[root]
        post = await self._repo.post_for(root)
        if post is None:
            return None
        context = self._found[root] = ThreadContext(post.prompt_id, post.topic)
        return context


class PromptPublisher:
    """Posts a prompt as the root of a new thread, and keeps a record of it."""

    def __init__(
        self,
        chat: Chat,
        repository: PromptRepository,
        clock: Clock,
        notice: str = "",
    ) -> None:
        self._chat = chat
        self._repo = repository
        self._clock = clock
        # What other features say under every prompt ("{prefix}" is the command prefix).
        self._notice = notice

    def message(
        self,
        prompt: Prompt,
        topic: Topic | None,
        channel: ChannelRef | None = None,
        *,
        with_buttons: bool = True,
    ) -> OutgoingMessage:
        blocks: list[Text | Context | Buttons] = [Text(f"**{escape(prompt.title)}**")]
        # A prompt may be a facilitator's (`prompt add`): their words, never markup.
        if prompt.content_note:
            blocks.append(Context(f"Content note: {escape(prompt.content_note)}"))
        blocks.append(Text(escape(prompt.text)))
        if prompt.follow_ups:
            blocks.append(Text("\n".join(f"• {escape(q)}" for q in prompt.follow_ups)))
        if prompt.resources:
            # A library's words too: a bracket or a star in a title, or a bracket in an
            # address, must not end the link early or read as markup.
            links = " · ".join(
                f"[{escape(r.title)}]({r.url.replace('(', '%28').replace(')', '%29')})"
                for r in prompt.resources
            )
            blocks.append(Context(f"To read: {links}"))
        topic_title = topic.title if topic else prompt.topic
        prefix = self._chat.command_prefix(channel.platform) if channel else "/cop"
        notice = " " + self._notice.format(prefix=prefix) if self._notice else ""
        blocks.append(
            Context(
                f"Reflection prompt · {topic_title} · Reply in this thread. None of us are "
                f"experts; we each bring our own perspective.{notice}"
            )
        )
        if with_buttons:
            blocks.append(
                Buttons(
                    (
                        Button(REPLY, "Reply anonymously", opens_form=True),
                        Button(SUGGEST, "Suggest a prompt", prompt.topic, opens_form=True),
                    )
                )
            )
        return OutgoingMessage(tuple(blocks), fallback=f"Reflection prompt: {prompt.title}")

    async def publish(
        self, channel: ChannelRef, prompt: Prompt, topic: Topic | None, posted_by: str
    ) -> MessageRef:
        ref = await self._chat.post(channel, self.message(prompt, topic, channel))
        await self._repo.record(
            PromptPost(prompt.id, prompt.topic, ref, self._clock.now(), posted_by)
        )
        return ref


class PromptsFeature:
    def __init__(
        self,
        catalogue: PromptCatalogue,
        publisher: PromptPublisher,
        repository: PromptRepository,
        clock: Clock,
        people: People | None = None,
        timezone: ZoneInfo = UK,
    ) -> None:
        self._catalogue = catalogue
        self._publisher = publisher
        self._repo = repository
        self._clock = clock
        self._people = people
        self._tz = timezone

    def register(self, registry: Registry) -> None:
        registry.keeps(
            PersonalData(
                "prompt suggestion(s)",
                ("prompt_suggestions.suggested_by",),
                erase=self._repo.erase_suggestions,
                # Given to facilitators by name, on purpose: `copbot erase` removes them.
                on_opt_out=False,
                notice="Reflection prompts you suggest.",
            )
        )
        registry.keeps(
            PersonalData(
                "prompt(s) added or posted",
                ("custom_prompts.added_by", "prompt_posts.posted_by"),
                erase=self._repo.forget_person,
                on_opt_out=False,
                notice="Prompts you add to the library, and the prompts you post.",
            )
        )
        registry.verb(
            "prompts",
            "List the topics of the prompt library, or one topic's prompts",
            self.topics,
            usage="[topic]",
        )
        registry.verb(
            "prompt",
            "Post a reflection prompt here, as a new thread",
            self.post,
            usage="[topic|prompt-id]",
            role=Role.FACILITATOR,
            details=(
                "Without a topic, I pick the next prompt in rotation: this channel won't see "
                "a prompt twice until it has seen them all."
            ),
        )
        registry.verb(
            "prompt preview",
            "See a prompt and its facilitator note privately before posting it",
            self.preview,
            usage="ID",
            role=Role.FACILITATOR,
        )
        registry.verb(
            "prompt add",
            "Add a prompt of your own to the library",
            self.add,
            role=Role.FACILITATOR,
        )
        registry.verb(
            "prompt remove",
            "Remove a prompt you added to the library",
            self.remove,
            usage="ID",
            role=Role.FACILITATOR,
            details="The library's own prompts stay; admins can remove anyone's added prompt.",
        )
        registry.verb(
            "prompt suggestions",
            "Read the prompts people have suggested",
            self.suggestions,
            role=Role.FACILITATOR,
        )
        registry.action(SUGGEST, self.open_suggestion)
        registry.form(ADD_FORM, self.added, role=Role.FACILITATOR, check=self.check_added)
        registry.form(SUGGEST_FORM, self.suggested, check=check_suggestion)

    async def topics(self, ix: Interaction, args: Args) -> None:
        library = await self._catalogue.current()
        if args:
            await ix.reply(self._topic_listing(ix, library, args.text.lower()))
            return
        lines = [
            f"`{t.slug}`: {t.title} ({len(t.prompts)} prompt{'s' if len(t.prompts) != 1 else ''})"
            for t in library.topics
        ]
        await ix.reply(
            OutgoingMessage(
                (
                    Text("**Reflection prompt topics**"),
                    Text("\n".join(lines)),
                    Context(
                        f"Facilitators: `{ix.prefix} prompt TOPIC` posts one here, and "
                        f"`{ix.prefix} prompt` posts the next in rotation."
                    ),
                )
            )
        )

    async def post(self, ix: Interaction, args: Args) -> None:
        if ix.origin.channel.is_direct:
            raise CommandError(
                "Prompts start conversations, so they go in channels: run this in the channel "
                "where you'd like the discussion to happen."
            )
        if len(args) > 1:
            raise UsageError("Give one topic or one prompt id.")
        library = await self._catalogue.current()
        wanted = args.get(0).lower()
        if wanted == "any":  # as `schedule prompt any` reads it: any topic, in rotation
            wanted = ""
        prompt = library.prompt(wanted) if wanted else None
        if prompt is not None:
            topic = library.topic(prompt.topic)
        else:
            prompt, topic = await self._catalogue.choose(ix.origin.channel, wanted or None)
        await self._publisher.publish(ix.origin.channel, prompt, topic, ix.user.identity)
        await ix.reply(
            OutgoingMessage(
                (
                    Text(f"I've posted **{escape(prompt.title)}** (`{prompt.id}`)."),
                    facilitator_note(prompt),
                )
            )
        )

    async def preview(self, ix: Interaction, args: Args) -> None:
        if len(args) != 1:
            raise UsageError("Give the id of the prompt to preview.")
        library = await self._catalogue.current()
        prompt = library.prompt(args.get(0).lower())
        if prompt is None:
            hint = did_you_mean(args.get(0), (p.id for p in library.prompts))
            raise UsageError(
                f"There's no prompt `{clip(args.get(0))}`.{hint} "
                f"`{ix.prefix} prompts TOPIC` lists a topic's prompts with their ids."
            )
        shown = self._publisher.message(
            prompt, library.topic(prompt.topic), ix.origin.channel, with_buttons=False
        )
        await ix.reply(
            OutgoingMessage(
                (
                    Context(f"Preview of `{prompt.id}`: only you can see this."),
                    *shown.blocks,
                    facilitator_note(prompt),
                    Context(f"Post it here with `{ix.prefix} prompt {prompt.id}`."),
                )
            )
        )

    async def add(self, ix: Interaction, args: Args) -> None:
        library = await self._catalogue.current()
        await ix.open_form(add_form(library))

    async def check_added(self, event: FormSubmitted) -> dict[str, str]:
        """What is wrong with a prompt from the form, by field, while the form is open."""
        library = await self._catalogue.current()
        return prompt_form_errors(dict(event.values), library)

    async def added(self, ix: Interaction, event: FormSubmitted) -> None:
        library = await self._catalogue.current()
        values = dict(event.values)
        prompt, problems = prompt_from_form(values, library, added_by=ix.user.identity)
        if prompt is None:  # the check let it through, and then the library changed
            raise CommandError(
                "I couldn't add that prompt:\n"
                + "\n".join(f"• {FORM_LABELS.get(k, k)}: {p}" for k, p in problems.items())
                + f"\nYour words are below so nothing is lost; `{ix.prefix} prompt add` "
                "opens the form again.\n\n" + echo(event)
            )
        await self._repo.add(prompt, self._clock.now())
        await ix.reply(
            f"Added **{escape(prompt.title)}** to {prompt.topic} as `{prompt.id}`. It joins the "
            f"rotation; post it now with `{ix.prefix} prompt {prompt.id}`."
        )

    async def open_suggestion(self, ix: Interaction, event: ButtonPressed) -> None:
        library = await self._catalogue.current()
        await ix.open_form(suggest_form(library, event.value))

    async def suggested(self, ix: Interaction, event: FormSubmitted) -> None:
        # The form itself says thank you (Form.thanks), where the person is.
        await self._repo.suggest(
            Suggestion(
                event.value("topic"),
                event.value("text").strip(),
                ix.user.identity,
                self._clock.now(),
            )
        )

    async def suggestions(self, ix: Interaction, args: Args) -> None:
        found = await self._repo.suggestions(limit=20)
        if not found:
            await ix.reply("Nobody has suggested a prompt yet.")
            return
        names = await self._names([s.by for s in found])
        lines = [
            # Staff's words and names, as written: never markup in copbot's voice.
            f"• {escape(s.text)} ({escape(s.topic or 'any topic')}; "
            f"from {escape(names.get(s.by) or s.by)}, "
            f"{for_people(s.at, self._tz, time=False)})"
            for s in found
        ]
        await ix.reply(
            OutgoingMessage(
                (
                    Text("**Suggested prompts**, newest first"),
                    Text("\n".join(lines)),
                    Context(f"Add one to the library with `{ix.prefix} prompt add`."),
                )
            )
        )

    def _topic_listing(self, ix: Interaction, library: Library, slug: str) -> OutgoingMessage:
        topic = library.topic(slug)
        if topic is None:
            raise UsageError(_no_topic(slug, library, prompts=False))
        lines = [f"`{p.id}`: {escape(p.title)}" for p in topic.prompts]
        return OutgoingMessage(
            (
                Text(f"**{topic.title}**: {topic.summary}"),
                Text("\n".join(lines)),
                Context(
                    f"Facilitators: `{ix.prefix} prompt preview ID` shows one privately, "
                    f"and `{ix.prefix} prompt ID` posts it here."
                ),
            )
        )

    async def remove(self, ix: Interaction, args: Args) -> None:
        if len(args) != 1:
            raise UsageError("Give the id of the prompt to remove.")
        library = await self._catalogue.current()
        wanted = args.get(0).lower()
        prompt = library.prompt(wanted)
        if prompt is None:
            hint = did_you_mean(wanted, (p.id for p in library.prompts if p.added))
            raise UsageError(f"There's no prompt `{clip(wanted)}`.{hint}")
        if not prompt.added:
            raise CommandError(
                f"`{prompt.id}` is one of the library's own prompts, so it stays; only "
                "prompts added with `prompt add` can be removed."
            )
        if prompt.added_by != ix.user.identity and ix.role < Role.ADMIN:
            # Who added it is blank once they were erased.
            by = await self._name(prompt.added_by) if prompt.added_by else "someone else"
            raise CommandError(
                f"`{prompt.id}` was added by {by}; you can "
                "remove the prompts you added, and admins can remove any."
            )
        await self._repo.remove(prompt.id)
        await ix.reply(f"Removed **{escape(prompt.title)}** (`{prompt.id}`) from the library.")

    async def _names(self, identities: list[str]) -> dict[str, str]:
        return await self._people.names(identities) if self._people else {}

    async def _name(self, identity: str) -> str:
        return (await self._names([identity])).get(identity) or identity


def facilitator_note(prompt: Prompt) -> Text:
    """The note for whoever posts ``prompt``, shown to them alone."""
    return Text(f"**Facilitator note:** {escape(prompt.facilitator_note)}")


def _no_topic(topic: str, library: Library, *, prompts: bool = True) -> str:
    slugs = ", ".join(f"`{t.slug}`" for t in library.topics)
    known = [t.slug for t in library.topics] + ([p.id for p in library.prompts] if prompts else [])
    what = "topic or prompt" if prompts else "topic"
    return (
        f"There's no {what} `{clip(topic)}`.{did_you_mean(topic, known)} The topics are: {slugs}."
    )
