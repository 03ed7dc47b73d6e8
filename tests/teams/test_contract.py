"""The real botbuilder CloudAdapter against a fake Bot Framework connector: what Teams sends
copbot, and what copbot asks of Teams."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from adapters.teams import cards
from adapters.teams.invokes import OUT_OF_DATE
from bot.clock import SystemClock
from bot.model import ChannelRef, MessageRef, Origin, OutgoingMessage, UserRef
from bot.ports import OutcomeUnknown
from bot.services.prompt_forms import suggest_form
from bot.services.prompts import SUGGEST, SUGGEST_FORM
from bot.signing import Signing
from prompts import LIBRARY_DIR, load_library
from tests.teams.conftest import ADMIN, ADMIN_AAD, TeamsBot, fixture, open_dialog
from tests.teams.fake_connector import BOT, NORTH, TEAM, TENANT, FakeConnector

SAM_AAD = "aad-sam-0001"
SAM = fixture("card_button")["from"]


def command(bot: TeamsBot, text: str, ident: str, who: dict[str, str] = ADMIN) -> dict[str, Any]:
    return bot.activity(
        "channel_command",
        id=ident,
        text=f"<at>copbot</at> {text}",
        **{"from": who},
        conversation={
            "isGroup": True,
            "conversationType": "channel",
            "tenantId": TENANT,
            "id": f"{NORTH};messageid={ident}",
        },
    )


def reply(bot: TeamsBot, root: str, ident: str, html: str) -> dict[str, Any]:
    return bot.activity(
        "channel_reply",
        id=ident,
        replyToId=root,
        text=html,
        attachments=[],
        entities=[],
        conversation={
            "isGroup": True,
            "conversationType": "channel",
            "tenantId": TENANT,
            "id": f"{NORTH};messageid={root}",
        },
    )


async def prompt(bot: TeamsBot) -> str:
    """An admin asks for a prompt in North; returns the new thread's root id."""
    await bot.install()
    before = len(bot.fake.of("create"))
    response = await bot.send(command(bot, "prompt language", "1700000001000"))
    assert response.status == 200
    # The prompt's own new conversation: not a hello from installing, nor the 1:1 chat the
    # facilitator's note goes to, either of which may be created around it.
    [created] = await bot.until(
        lambda: [
            c
            for c in bot.fake.of("create")[before:]
            if c.body.get("isGroup") and SUGGEST in json.dumps(c.body)
        ]
    )
    assert created.body["channelData"]["channel"]["id"] == NORTH
    return created.activity_id


async def test_installation_stores_the_team_channels_and_greets_in_general(
    teams: TeamsBot,
) -> None:
    await teams.install()
    assert teams.fake.of("channels")
    [hello] = teams.fake.of("create")
    assert hello.body["channelData"]["channel"]["id"] == TEAM  # General only, not North
    query = "select id, name from channels where platform = 'teams'"
    names = dict(await teams.until(lambda: len(teams.rows(query)) == 2 and teams.rows(query)))
    assert names == {TEAM: "General", NORTH: "North"}
    kept = teams.rows("select kind, key from teams_conversations")
    assert ("channel", NORTH) in kept and ("channel", TEAM) in kept


async def test_a_prompt_is_a_new_conversation_and_its_replies_are_archived(
    teams: TeamsBot,
) -> None:
    root = await prompt(teams)
    [created] = [c for c in teams.fake.of("create") if c.activity_id == root]
    card = created.body["activity"]
    assert card["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    first = reply(teams, root, "1700000002001", "<p>Names <b>matter</b> &amp; so do we</p>")
    assert (await teams.send(first)).status == 200
    assert (await teams.send(first)).status == 200  # delivered twice
    await teams.until(lambda: teams.rows("select text from archive_messages"))
    [(text, thread)] = teams.rows("select text, thread_id from archive_messages")
    assert text == "Names matter & so do we"
    assert thread == root


@pytest.mark.parametrize(
    "sender",
    [
        {"id": "28:a-workflow-bot", "name": "Workflows"},  # another bot, no role given
        {"id": "28:another-bot", "name": "Rota bot", "role": "bot"},
    ],
)
async def test_what_other_bots_post_in_a_thread_is_not_kept_as_a_persons(
    teams: TeamsBot, sender: dict[str, str]
) -> None:
    """Only people have an Entra id; a bot's post has none, so it is no one's words to keep
    (as on Slack), nor a person to remember."""
    root = await prompt(teams)
    posted = reply(teams, root, "1700000002001", "<p>Rota for next week</p>")
    posted["from"] = sender
    assert (await teams.send(posted)).status == 200
    said = reply(teams, root, "1700000002002", "<p>Names matter</p>")
    assert (await teams.send(said)).status == 200
    await teams.until(lambda: teams.rows("select 1 from archive_messages"))
    await teams.until(
        lambda: teams.rows("select count(*) from inbox where state = 'pending'") == [(0,)]
    )
    assert teams.rows("select text from archive_messages") == [("Names matter",)]
    assert teams.rows("select count(*) from people where identity = 'teams:'") == [(0,)]


async def test_edits_and_deletions_keep_the_archive_in_step(teams: TeamsBot) -> None:
    root = await prompt(teams)
    await teams.send(reply(teams, root, "1700000003001", "<p>first words</p>"))
    await teams.until(lambda: teams.rows("select 1 from archive_messages"))
    edit = teams.activity(
        "message_update",
        id="1700000003001",
        text="<p>second words</p>",
        conversation={"conversationType": "channel", "id": f"{NORTH};messageid={root}"},
    )
    assert (await teams.send(edit)).status == 200
    await teams.until(
        lambda: teams.rows("select 1 from archive_messages where text = 'second words'")
    )
    # A second edit reuses the activity id: it must not be taken for a redelivery.
    again = edit | {"timestamp": "2026-11-30T10:09:00.000Z", "text": "<p>third words</p>"}
    assert (await teams.send(again)).status == 200
    await teams.until(
        lambda: teams.rows("select 1 from archive_messages where text = 'third words'")
    )
    gone = teams.activity(
        "message_delete",
        id="1700000003001",
        conversation={"conversationType": "channel", "id": f"{NORTH};messageid={root}"},
    )
    assert (await teams.send(gone)).status == 200
    await teams.until(lambda: not teams.rows("select 1 from archive_messages"))


async def test_private_answers_go_to_the_persons_one_to_one_chat(teams: TeamsBot) -> None:
    await teams.install()
    response = await teams.send(command(teams, "whoami", "1700000004000"))
    assert response.status == 200
    await teams.until(lambda: teams.fake.of("send"))
    [opened] = [c for c in teams.fake.of("create") if not c.body.get("isGroup")]
    assert opened.body["members"][0]["id"] == ADMIN["id"]
    assert opened.body["channelData"]["tenant"]["id"] == TENANT
    [sent] = teams.fake.of("send")
    assert sent.conversation == f"a:1dm-{ADMIN['id']}"
    assert f"teams:{ADMIN_AAD}" in str(sent.body)
    assert "Teams can't show a message to you alone" in str(sent.body)


async def test_help_in_the_personal_chat_is_answered_there(teams: TeamsBot) -> None:
    await teams.install()
    personal = teams.activity("personal_command", text="help", **{"from": ADMIN})
    assert (await teams.send(personal)).status == 200
    await teams.until(lambda: teams.fake.of("send"))
    [sent] = teams.fake.of("send")
    assert sent.conversation == "a:1personal-chat-with-sam"
    assert "@copbot" in str(sent.body)


async def test_copbot_renamed_in_the_app_package_writes_commands_by_that_name(
    teams: TeamsBot,
) -> None:
    """An organisation's package may call copbot something else (``copbot teams package
    --name``): its answers write commands as people mention it there, and that name typed
    out in the 1:1 chat is read as copbot's."""
    await teams.install()
    renamed = command(teams, "help", "1700000004100")
    renamed["text"] = "<at>IPS CoP</at> help"
    renamed["recipient"] = {"id": BOT, "name": "IPS CoP"}  # as Teams names the app
    renamed["entities"] = [
        {"type": "mention", "mentioned": {"id": BOT, "name": "IPS CoP"}, "text": "<at>IPS CoP</at>"}
    ]
    assert (await teams.send(renamed)).status == 200
    [sent] = await teams.until(lambda: teams.fake.of("send"))
    assert "@IPS CoP" in str(sent.body) and "@copbot" not in str(sent.body)
    personal = teams.activity("personal_command", text="@IPS CoP whoami", **{"from": ADMIN})
    assert (await teams.send(personal)).status == 200
    answers = await teams.until(lambda: teams.fake.of("send")[1:])
    assert f"teams:{ADMIN_AAD}" in str(answers[-1].body)
    # A name that would read as markup is not taken up.
    odd = command(teams, "help", "1700000004200")
    odd["entities"] = [{"type": "mention", "mentioned": {"id": BOT, "name": "`x` *y*"}}]
    odd["recipient"] = {"id": BOT, "name": "`x` *y*"}
    assert (await teams.send(odd)).status == 200
    again = await teams.until(lambda: teams.fake.of("send")[2:])
    assert "@IPS CoP" in str(again[-1].body)


async def test_a_person_cannot_rename_copbot_in_everyones_answers(teams: TeamsBot) -> None:
    """A mention's entity is written by the sender's client (or through Graph): naming
    copbot otherwise there changes neither its answers to others nor how they're read."""
    await teams.install()
    forged = command(teams, "help", "1700000004300", who=SAM)
    forged["text"] = "<at>copbot optout</at> help"
    forged["entities"] = [
        {
            "type": "mention",
            "mentioned": {"id": BOT, "name": "copbot optout"},
            "text": "<at>copbot optout</at>",
        }
    ]
    assert (await teams.send(forged)).status == 200
    await teams.until(lambda: teams.fake.of("send"))
    personal = teams.activity("personal_command", text="@copbot optout", **{"from": ADMIN})
    assert (await teams.send(personal)).status == 200
    answers = await teams.until(lambda: teams.fake.of("send")[1:])
    assert "copbot optout help" not in str(answers[-1].body)
    assert "I won't keep what you write" in str(answers[-1].body)  # opted out, not help


async def test_a_form_opened_outside_a_dialog_is_a_button_in_the_chat_that_opens_it(
    teams: TeamsBot,
) -> None:
    """An older card's button (sent before it asked for a dialog) opens the form too: as
    a one-button card in the person's chat, whose button opens the dialog."""
    await teams.install()
    # Sam speaks first, so copbot knows where to reach them.
    await teams.send(reply(teams, "1700000000001", "1700000005000", "<p>hello</p>"))
    press = teams.activity(
        "card_button", value={"copbot": "action", "action": SUGGEST, "value": "language"}
    )
    assert (await teams.send(press)).status == 200
    [opener] = await teams.until(lambda: teams.fake.of("send"))
    assert opener.conversation == f"a:1dm-{SAM['id']}"
    dialog = await open_dialog(teams, opener)
    submit = dialog["actions"][0]["data"]
    assert submit["form"] == SUGGEST_FORM
    assert submit["channel"] == NORTH  # answered for the channel where the button was
    answer = teams.activity(
        "task_submit",
        value={
            "type": "task/submit",
            "data": submit | {"f.topic": "language", "f.text": "What do we call people?"},
        },
    )
    response = await teams.send(answer)
    assert (await response.json())["task"]["type"] == "message"
    await teams.until(lambda: teams.rows("select text from prompt_suggestions"))
    assert teams.rows("select text from prompt_suggestions") == [("What do we call people?",)]


async def test_a_forged_form_button_opens_nothing(teams: TeamsBot) -> None:
    await teams.install()
    forged = Signing(b"another copbot's key, 32 bytes..", SystemClock()).signer("teams-form")
    where = {"form": {"__type__": "Form"}, "channel": NORTH}
    for reference in ("not signed", forged.sign(json.dumps(where))):
        data = {"copbot": "open", "form": reference, "msteams": {"type": "task/fetch"}}
        fetch = teams.activity("task_fetch", value={"type": "task/fetch", "data": data})
        answer = await (await teams.send(fetch)).json()
        assert answer["task"] == {"type": "message", "value": OUT_OF_DATE}


async def test_action_execute_is_answered_within_the_turn(teams: TeamsBot) -> None:
    response = await teams.send(teams.activity("adaptive_card_action"))
    assert response.status == 200
    body = await response.json()
    assert body["statusCode"] == 200


@pytest.mark.parametrize("status", [429, 412, 502, 504])
async def test_throttling_and_gateway_errors_are_retried_with_backoff(
    teams: TeamsBot, status: int
) -> None:
    await teams.install()
    teams.fake.fail("create", status, times=2)
    ref = await teams.adapter.post(ChannelRef("teams", NORTH, TENANT), OutgoingMessage.of("hi"))
    assert ref.id
    assert len(teams.sleeps.asked) == 2
    assert teams.sleeps.asked[1] >= teams.sleeps.asked[0] * 0.5 > 0
    assert [c.status for c in teams.fake.calls if c.method == "create"][-3:] == [
        status,
        status,
        200,
    ]


async def test_replies_updates_and_deletes_reach_the_connector(teams: TeamsBot) -> None:
    await teams.install()
    north = ChannelRef("teams", NORTH, TENANT)
    root = await teams.adapter.post(north, OutgoingMessage.of("a prompt"))
    answer = await teams.adapter.reply(root.as_thread, OutgoingMessage.of("a reply"))
    assert answer.thread_root == root.id
    [sent] = teams.fake.of("send")
    assert sent.conversation == f"{NORTH};messageid={root.id}"
    await teams.adapter.update(root, OutgoingMessage.of("changed"))
    [updated] = teams.fake.of("update")
    assert updated.activity_id == root.id and updated.body["text"] == "changed"
    await teams.adapter.delete(answer)
    assert teams.fake.of("delete")[0].activity_id == answer.id
    teams.fake.fail("delete", 404)
    await teams.adapter.delete(answer)  # gone already is done
    link = await teams.adapter.permalink(answer)
    assert link.startswith("https://teams.microsoft.com/l/message/19%3Anorth")
    assert f"parentMessageId={root.id}" in link and "channelName=North" in link


async def test_a_timeout_after_sending_is_an_unknown_outcome(db_path: Path, fake: Any) -> None:
    from bot.settings import TeamsSettings
    from tests.teams.conftest import serve

    async for bot in serve(
        db_path, fake, TeamsSettings(tenants=frozenset({TENANT})), send_timeout=0.2
    ):
        await bot.install()
        fake.fail("create", 0)  # 0: never answer
        with pytest.raises(OutcomeUnknown):
            await bot.adapter.post(ChannelRef("teams", NORTH, TENANT), OutgoingMessage.of("x"))


async def test_posting_where_copbot_is_not_installed_says_what_to_do(
    db_path: Path, fake: FakeConnector
) -> None:
    from bot.settings import TeamsSettings
    from tests.teams.conftest import serve

    teams = TeamsSettings(tenants=frozenset({TENANT}))
    async for bot in serve(db_path, fake, teams, name="IPS CoP"):
        # By the name people find the app by in their Teams.
        with pytest.raises(Exception, match="add IPS CoP to that channel's team"):
            await bot.adapter.post(
                ChannelRef("teams", "19:elsewhere@thread.tacv2", TENANT), OutgoingMessage.of("x")
            )


async def test_activities_from_other_tenants_are_refused_and_not_kept(
    teams: TeamsBot,
) -> None:
    stranger = teams.activity("channel_top_level")
    stranger["channelData"]["tenant"]["id"] = "another-tenant"
    response = await teams.send(stranger)
    assert response.status == 403
    assert teams.inbox_count() == 0
    assert teams.adapter.refused_tenants == 1


async def test_a_tenant_written_in_capitals_is_allowed_as_configured(
    db_path: Path, fake: FakeConnector
) -> None:
    from bot.settings import Settings
    from tests.teams.conftest import serve

    # Without an app id (an emulator) the tenant may be any word, written in any case.
    settings = Settings.from_env({"COPBOT_TEAMS": "on", "COPBOT_TEAMS_TENANTS": "Emulator-Tenant"})
    assert settings.teams is not None
    async for bot in serve(db_path, fake, settings.teams):
        activity = bot.activity("channel_top_level")
        activity["channelData"]["tenant"]["id"] = "Emulator-Tenant"
        response = await bot.send(activity)
        assert response.status != 403
        assert bot.adapter.refused_tenants == 0


async def test_healthz_lists_teams(teams: TeamsBot) -> None:
    response = await teams.client.get("/healthz")
    assert "teams" in (await response.json())["platforms"]


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"no": "type"}', b'{"type": 7}'],
)
async def test_what_is_not_an_activity_is_a_400(teams: TeamsBot, body: bytes) -> None:
    response = await teams.client.post(
        "/api/messages", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    assert teams.inbox_count() == 0


async def test_an_oversized_body_is_a_413(teams: TeamsBot) -> None:
    response = await teams.client.post(
        "/api/messages",
        data=b"{" + b" " * (300 * 1024) + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert response.status == 413


def test_a_message_ref_for_a_thread_names_its_root() -> None:
    ref = MessageRef(ChannelRef("teams", NORTH, TENANT), "2", "1")
    assert ref.as_thread.root_id == "1"


async def test_erasing_a_person_forgets_their_chat_reference(teams: TeamsBot) -> None:
    await teams.install()
    sent = len(teams.fake.of("send"))
    await teams.send(command(teams, "whoami", "1700000006000"))
    query = "select count(*) from teams_conversations where person = ?"
    await teams.until(lambda: teams.rows(query, (f"teams:{ADMIN_AAD}",)) == [(1,)])
    # The answer delivered, so nothing still in flight can store the reference again.
    await teams.until(lambda: len(teams.fake.of("send")) > sent)
    erased = await teams.core.erasure.erase(f"teams:{ADMIN_AAD}")
    assert erased.of("chat reference(s)") == 1
    assert teams.rows(query, (f"teams:{ADMIN_AAD}",)) == [(0,)]
    assert teams.rows("select count(*) from teams_conversations where kind = 'channel'") != [(0,)]


async def test_help_on_teams_says_private_answers_come_to_the_chat(teams: TeamsBot) -> None:
    await teams.install()
    await teams.send(command(teams, "help", "1700000007000"))
    await teams.until(lambda: teams.fake.of("send"))
    assert "1:1 chat with me" in str(teams.fake.of("send")[-1].body)


async def test_a_person_mentioned_without_an_aad_id_is_looked_up(
    teams: TeamsBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await teams.install()
    teams.fake.members["29:1priya-teams-id"] = {
        "id": "29:1priya-teams-id",
        "name": "Priya Shah",
        "aadObjectId": "aad-priya-0002",
    }
    grant = command(teams, "role grant facilitator <at>Priya Shah</at>", "1700000008000")
    grant["entities"] = fixture("role_grant_mention")["entities"]
    assert (await teams.send(grant)).status == 200
    await teams.until(lambda: teams.rows("select identity, role from roles"))
    assert teams.rows("select identity, role from roles") == [
        ("teams:aad-priya-0002", "facilitator")
    ]
    assert teams.fake.of("member")
    # The channelData fields botbuilder's models don't name are no WARNING for an admin.
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


async def test_teams_channels_are_found_by_name_whatever_its_case(teams: TeamsBot) -> None:
    await teams.install()
    query = "select count(*) from channels where platform = 'teams'"
    await teams.until(lambda: teams.rows(query) == [(2,)])
    [found] = await teams.core.channels.find("teams", "#north")
    assert found.ref.id == NORTH and found.ref.name == "North"


async def test_a_form_with_a_problem_says_what_to_fix_in_the_chat_and_keeps_nothing(
    teams: TeamsBot,
) -> None:
    """A form card already in a chat (copbot sent forms as cards before it sent a button
    that opens a dialog) still works when sent back."""
    await teams.install()
    await teams.send(reply(teams, "1700000000001", "1700000005000", "<p>hello</p>"))
    form = suggest_form(load_library(LIBRARY_DIR), "language")
    channel = ChannelRef("teams", NORTH, TENANT, "North")
    card = cards.form_card(form, Origin(UserRef("teams", SAM_AAD), channel))
    submit = card["actions"][0]["data"]
    empty = teams.activity("form_submit", value=submit | {"f.topic": "language", "f.text": " "})
    assert (await teams.send(empty)).status == 200
    await teams.until(lambda: teams.fake.of("send"))
    said = json.dumps(teams.fake.of("send")[-1].body)
    assert "still in the card above" in said and "The question you" in said
    assert teams.rows("select text from prompt_suggestions") == []
    # Sent again with the question written: kept, and thanked in the same chat.
    sent_before = len(teams.fake.of("send"))
    good = teams.activity(
        "form_submit", value=submit | {"f.topic": "language", "f.text": "What do we call people?"}
    )
    assert (await teams.send(good)).status == 200
    await teams.until(lambda: len(teams.fake.of("send")) > sent_before)
    assert "passed your suggestion on" in json.dumps(teams.fake.of("send")[-1].body)
    await teams.until(lambda: teams.rows("select text from prompt_suggestions"))
    assert teams.rows("select text from prompt_suggestions") == [("What do we call people?",)]


async def test_a_form_card_longer_than_its_field_takes_is_refused_not_cut(
    teams: TeamsBot,
) -> None:
    await teams.install()
    form = suggest_form(load_library(LIBRARY_DIR), "language")
    channel = ChannelRef("teams", NORTH, TENANT, "North")
    card = cards.form_card(form, Origin(UserRef("teams", SAM_AAD), channel))
    words = "x" * 1001
    submit = card["actions"][0]["data"] | {"f.topic": "language", "f.text": words}
    assert (await teams.send(teams.activity("form_submit", value=submit))).status == 200
    await teams.until(lambda: teams.fake.of("send"))
    said = json.dumps(teams.fake.of("send")[-1].body)
    assert "That's 1,001 characters; please keep it to 1,000" in said
    assert "still in the card above" in said
    assert teams.rows("select text from prompt_suggestions") == []


async def test_a_form_card_teams_sends_again_is_kept_and_thanked_once(teams: TeamsBot) -> None:
    await teams.install()
    form = suggest_form(load_library(LIBRARY_DIR), "language")
    channel = ChannelRef("teams", NORTH, TENANT, "North")
    card = cards.form_card(form, Origin(UserRef("teams", SAM_AAD), channel))
    values = {"f.topic": "language", "f.text": "What do we call people?"}
    submit = teams.activity("form_submit", value=card["actions"][0]["data"] | values)
    assert (await teams.send(submit)).status == 200
    thanked = await teams.until(
        lambda: [c for c in teams.fake.of("send") if "passed your suggestion on" in str(c.body)]
    )
    assert (await teams.send(submit)).status == 200  # answered once the chat has been
    again = [c for c in teams.fake.of("send") if "passed your suggestion on" in str(c.body)]
    assert again == thanked
    assert teams.rows("select text from prompt_suggestions") == [("What do we call people?",)]


async def test_a_command_whose_mention_teams_did_not_make_gets_a_private_hint(
    teams: TeamsBot,
) -> None:
    # "@copbot help" typed without choosing copbot from Teams' list is plain text: without
    # a word it would sit in the channel unanswered, as "/cops help" would in Slack.
    root = await prompt(teams)
    before = len(teams.fake.calls)
    said = reply(teams, root, "1700000001900", "<p>@copbot search bias</p>")
    assert (await teams.send(said)).status == 200
    [hint] = await teams.until(
        lambda: [c for c in teams.fake.calls[before:] if "Did you mean" in json.dumps(c.body)]
    )
    assert hint.conversation.startswith("a:1dm-")  # the 1:1 chat, not the channel
    assert "@copbot search bias" in json.dumps(hint.body)
    assert "Choose copbot from the list Teams shows" in json.dumps(hint.body)
    chatter = reply(teams, root, "1700000001901", "<p>@copbot is a good idea, I think</p>")
    assert (await teams.send(chatter)).status == 200
    await teams.until(
        lambda: teams.rows("select count(*) from inbox where state = 'pending'") == [(0,)]
    )
    assert len([c for c in teams.fake.calls[before:] if "Did you mean" in json.dumps(c.body)]) == 1
