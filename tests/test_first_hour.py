"""The first hour in chat: people by their names, and commands that forgive."""

from __future__ import annotations

import re

import pytest

from bot.interaction import Interaction
from bot.model import Origin, Role, UserRef
from prompts import load_library
from tests.support.harness import ALEX, NORTH, PRIYA, SAM, Harness

LIBRARY = load_library()


def shown(text: str) -> str:
    """The neutral markup as people read it: escaped characters as themselves."""
    return re.sub(r"\\(.)", r"\1", text)


ADD = {
    "topic": "language",
    "title": "Words at the front desk",
    "text": "What words greet people when they first arrive at your service?",
    "follow_ups": "Who chose them?",
    "facilitator_note": "Invite examples rather than judgements.",
    "content_note": "",
}


async def test_people_are_shown_by_name_and_admins_also_see_identities(bot: Harness) -> None:
    await bot.command("whoami", PRIYA)  # copbot meets Priya
    await bot.core.roles.grant(PRIYA.identity, Role.FACILITATOR, by=ALEX.identity)
    # Staff may see who to ask, by name; the identities are for admins, who manage roles.
    for_staff = await bot.reply_text("role list", SAM)
    assert "Priya: facilitator" in for_staff
    assert "test:priya" not in for_staff
    assert "Alex (test:alex): admin" in shown(await bot.reply_text("role list", ALEX))
    assert shown(await bot.reply_text("whoami", SAM)) == (
        "You are Sam (test:sam), and your role is staff."
    )


async def test_a_name_that_looks_like_markup_is_shown_as_written(bot: Harness) -> None:
    """A display name is the person's own choice: never a link or bold in copbot's words."""
    mallory = UserRef("test", "mal", "[Sam (IT)](https://evil.example/sso) **admin**")
    await bot.command("whoami", mallory)
    await bot.core.roles.grant(mallory.identity, Role.FACILITATOR, by=ALEX.identity)
    for text in (await bot.reply_text("role list", SAM), await bot.reply_text("whoami", mallory)):
        assert "](" not in text.replace("\\]\\(", "") and "**admin" not in text
        assert "[Sam (IT)](https://evil.example/sso) **admin**" in shown(text)


async def test_a_name_learnt_later_replaces_the_identity_and_is_kept(bot: Harness) -> None:
    await bot.core.roles.grant("test:kim", Role.FACILITATOR, by=ALEX.identity)
    assert "test:kim: facilitator" in await bot.reply_text("role list", SAM)
    await bot.command("whoami", UserRef("test", "kim", "Kim Lee"))
    assert "Kim Lee: facilitator" in await bot.reply_text("role list", SAM)
    await bot.command("whoami", UserRef("test", "kim", ""))  # the platform didn't say this time
    assert "Kim Lee: facilitator" in await bot.reply_text("role list", SAM)


async def test_granting_a_role_to_someone_copbot_has_never_met_says_so(bot: Harness) -> None:
    text = await bot.reply_text("role grant facilitator test:U0TYPO", ALEX)
    assert text.startswith("test:U0TYPO is now a facilitator. Note: copbot hasn't met test:U0TYPO")
    await bot.command("whoami", PRIYA)
    text = await bot.reply_text("role grant facilitator <@test:priya>", ALEX)
    assert text == "Priya (test:priya) is now a facilitator."


async def test_a_refusal_says_who_can_and_how_to_find_them(bot: Harness) -> None:
    text = await bot.reply_text("schedule list", SAM)
    assert "is for facilitators and admins" in text and "`/cop role list`" in text
    assert "Facilitators and admins" in await bot.reply_text("role list", SAM)
    text = await bot.reply_text("help export", SAM)
    assert text.startswith("`/cop export` is for admins; your role is staff.")


async def test_unknown_help_topics_get_did_you_mean(bot: Harness) -> None:
    assert "Did you mean `/cop help schedule`?" in await bot.reply_text("help schedul", SAM)


async def test_prompts_topic_lists_its_prompts_with_their_ids(bot: Harness) -> None:
    text = await bot.reply_text("prompts language", SAM)
    topic = LIBRARY.topic("language")
    assert topic is not None
    for prompt in topic.prompts:
        assert f"`{prompt.id}`: {prompt.title}" in text
    assert "Did you mean `language`?" in await bot.reply_text("prompts langauge", SAM)


async def test_unknown_topics_and_ids_get_did_you_mean(bot: Harness) -> None:
    first = LIBRARY.prompts[0]
    typo = first.id[:-1]
    assert f"Did you mean `{first.id}`?" in await bot.reply_text(f"prompt preview {typo}", ALEX)
    assert "Did you mean `privilege`?" in await bot.reply_text("prompt privelege", ALEX)
    assert "Did you mean `language`?" in await bot.reply_text(
        "schedule prompt langauge every tuesday at 10:00", ALEX
    )


async def test_facilitators_remove_a_prompt_they_added_and_only_that(bot: Harness) -> None:
    await bot.core.roles.grant(PRIYA.identity, Role.FACILITATOR, by=ALEX.identity)
    await bot.core.roles.grant(SAM.identity, Role.FACILITATOR, by=ALEX.identity)
    await bot.submit("prompt-add", ADD, user=PRIYA)
    added = "language-words-at-the-front-desk"
    library_own = LIBRARY.prompts[0].id
    assert "library's own prompts, so it stays" in await bot.reply_text(
        f"prompt remove {library_own}", PRIYA
    )
    assert "was added by Priya" in await bot.reply_text(f"prompt remove {added}", SAM)
    assert f"Did you mean `{added}`?" in await bot.reply_text(
        "prompt remove language-words-at-the-front", PRIYA
    )
    assert (await bot.core.prompts.current()).prompt(added) is not None
    assert await bot.reply_text(f"prompt remove {added}", PRIYA) == (
        f"Removed **Words at the front desk** (`{added}`) from the library."
    )
    assert await bot.core.prompts.current() == LIBRARY


async def test_erasure_reaches_the_people_directory(bot: Harness) -> None:
    await bot.command("whoami", PRIYA)
    assert await bot.core.erasure.erase(PRIYA.identity)
    assert "test:priya" in await bot.reply_text("role grant facilitator test:priya", ALEX)
    assert "hasn't met test:priya" in await bot.reply_text("role grant admin test:priya", ALEX)


async def test_a_slack_mention_names_the_person_as_help_says(bot: Harness) -> None:
    from adapters.slack.text import command_text

    typed = command_text("role grant facilitator <@U2PRIYA|priya>")
    assert "slack:U2PRIYA is now a facilitator" in await bot.reply_text(typed, ALEX)
    assert await bot.core.roles.role_of("slack:U2PRIYA") is Role.FACILITATOR


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("slak:U012ABC", "is not an identity copbot knows"),
        ("slack:@alex", "is not a Slack identity"),
        ("teams:Priya", "is not a Teams identity"),
    ],
)
async def test_a_mistyped_identity_is_refused_and_nothing_is_granted(
    bot: Harness, typed: str, says: str
) -> None:
    text = await bot.reply_text(f"role grant admin {typed}", ALEX)
    assert says in text and "Mentioning the person (@name) avoids typos" in text
    assert bot.rows("select count(*) from roles") == [(0,)]


async def test_a_typed_identity_is_granted_as_its_platform_writes_it(bot: Harness) -> None:
    text = await bot.reply_text("role grant facilitator slack:u012abcdef", ALEX)
    assert "slack:U012ABCDEF" in text
    assert bot.rows("select identity from roles") == [("slack:U012ABCDEF",)]


async def test_a_typed_identity_is_revoked_however_it_was_granted(bot: Harness) -> None:
    """``revoke`` reads a typed identity as ``grant`` does, and still finds a grant an older
    copbot kept as it was typed."""
    await bot.reply_text("role grant facilitator slack:u012abcdef", ALEX)
    text = await bot.reply_text("role revoke facilitator slack:u012abcdef", ALEX)
    assert "is no longer a facilitator" in text
    assert bot.rows("select count(*) from roles") == [(0,)]

    await bot.core.db.execute(
        "insert into roles (identity, role, granted_by, granted_at)"
        " values ('slack:u0old', 'facilitator', 'cli', '2026-11-01T09:00:00+00:00')"
    )
    text = await bot.reply_text("role revoke facilitator slack:u0old", ALEX)
    assert "is no longer a facilitator" in text
    assert bot.rows("select count(*) from roles") == [(0,)]
    audit = bot.rows("select action, detail from audit order by id")
    assert audit[-1] == ("role revoked", "facilitator: slack:u0old, in chat")


async def test_every_example_in_help_works_as_written(bot: Harness) -> None:
    # What `help VERB` shows in backticks, starting with a verb, is there to be copied:
    # each must be taken as it is, not refused (a refusal raises its words here).
    await bot.join(NORTH)
    book = bot.core.registry.commands
    firsts = {verb.name.split()[0] for verb in book}
    tried = []
    for verb in book:
        for example in re.findall(r"`([^`]+)`", f"{verb.summary} {verb.details}"):
            words = example.split()
            if words[0] not in firsts or any(w.isupper() for w in words):
                continue  # an argument's own (`recruit*`), or a synopsis (`schedule resume ID`)
            parsed = book.parse(example)
            assert parsed.verb.handler is not None
            ix = Interaction(Origin(ALEX, NORTH), Role.ADMIN, bot.core.chat, bot.clock.now())
            await parsed.verb.handler(ix, parsed.args)
            tried.append(example)
    assert len(tried) >= 3, tried
