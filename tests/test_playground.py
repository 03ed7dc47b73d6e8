"""The playground adapter over HTTP, through the whole core, on a real SQLite file."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given
from hypothesis import strategies as st

from adapters.local.render import markup
from bot.app import CORE, create_app
from bot.commands import Args
from bot.interaction import Interaction
from bot.model import (
    Button,
    ButtonPressed,
    Buttons,
    Choice,
    Form,
    FormSubmitted,
    MessageDeleted,
    MessageEdited,
    MessagePosted,
    OutgoingMessage,
    Rating,
    Role,
    ShortText,
    UserRef,
    too_long,
)
from bot.records import ArchiveFilter
from bot.search_query import parse_terms
from bot.settings import Settings
from bot.timefmt import for_people


class Playground:
    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.core = client.server.app[CORE]  # type: ignore[union-attr]
        self.events: list[Any] = []
        for kind in (MessagePosted, MessageEdited, MessageDeleted):
            self.core.registry.listen(kind, self._record)

    async def _record(self, event: Any) -> None:
        self.events.append(event)

    async def state(self, who: str = "sam", channel: str = "general") -> dict[str, Any]:
        r = await self.client.get(f"/api/playground/state?as={who}&channel={channel}")
        assert r.status == 200
        return await r.json()

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        r = await self.client.post(f"/api/playground{path}", json=body)
        return r.status, await r.json()

    async def say(self, text: str, who: str = "sam", channel: str = "general", **kw: Any) -> dict:
        status, body = await self.post(
            "/messages", {"as": who, "channel": channel, "text": text, **kw}
        )
        assert status == 200, body
        return body

    async def settled(self) -> None:
        """Wait until the bot has joined the seeded channels and said hello in each."""
        for name in ["general", "north", "midlands", "london", "south"]:
            await self.until(lambda n=name: _with_messages(self, n))

    async def until(self, check: Callable[[], Any], timeout: float = 5.0) -> Any:
        async with asyncio.timeout(timeout):
            while True:
                result = await check()
                if result:
                    return result
                await asyncio.sleep(0.02)


@pytest.fixture
async def pg(db_path: Path) -> AsyncIterator[Playground]:
    app = create_app(Settings(db_path=db_path))
    async with TestClient(TestServer(app)) as client:
        pg = Playground(client)
        await pg.settled()
        yield pg


def texts(state: dict[str, Any]) -> list[str]:
    return [html.unescape(re.sub(r"<[^>]+>", " ", m["html"])).strip() for m in state["messages"]]


async def test_the_bot_joins_the_seeded_channels_and_says_hello_once(db_path: Path) -> None:
    for _ in range(2):  # start, stop, start again
        async with TestClient(TestServer(create_app(Settings(db_path=db_path)))) as client:
            pg = Playground(client)
            await pg.settled()
            for name in ["general", "north", "midlands", "london", "south"]:
                state = await pg.state(channel=name)
                assert len(state["messages"]) == 1 and "Hello #" in texts(state)[0]
            channels = await pg.core.channels.list("local")
            assert {c.ref.name: c.region for c in channels} == {
                "general": "",
                "north": "north",
                "midlands": "midlands",
                "london": "london",
                "south": "south",
                "leads": "",
            }


async def _with_messages(pg: Playground, channel: str) -> dict[str, Any] | None:
    state = await pg.state(channel=channel)
    return state if state["messages"] else None


async def test_cop_help_answers_only_the_person_who_asked(pg: Playground) -> None:
    assert (await pg.say("/cop help"))["command"] is True
    state = await pg.until(lambda: _private_answer(pg, "sam"))
    assert "Here's what you can ask me to do" in texts(state)[-1]
    assert "/cop whoami" in texts(state)[-1]
    other = await pg.state("priya")
    assert not any(m["private"] for m in other["messages"])


async def _private_answer(pg: Playground, who: str) -> dict[str, Any] | None:
    state = await pg.state(who)
    return state if any(m["private"] for m in state["messages"]) else None


async def test_messages_edits_and_deletes_reach_the_core_as_neutral_events(pg: Playground) -> None:
    posted = await pg.say("A first thought", "priya")
    reply = await pg.say("A reply", "sam", thread_root=posted["id"])
    status, _ = await pg.post(
        f"/messages/{reply['id']}/edit", {"as": "sam", "text": "An edited reply"}
    )
    assert status == 200
    status, _ = await pg.post(f"/messages/{posted['id']}/delete", {"as": "priya"})
    assert status == 200
    await pg.until(lambda: _count(pg, 4))
    first, second, edited, deleted = pg.events
    assert isinstance(first, MessagePosted) and first.author == UserRef("local", "priya")
    assert first.thread is None and first.text == "A first thought"
    assert isinstance(second, MessagePosted) and second.thread is not None
    assert second.thread.root_id == posted["id"]
    assert isinstance(edited, MessageEdited) and edited.text == "An edited reply"
    assert isinstance(deleted, MessageDeleted) and deleted.message.id == posted["id"]
    assert "A first thought" not in texts(await pg.state())


async def _count(pg: Playground, n: int) -> bool:
    return len(pg.events) >= n


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"as": "nobody", "channel": "general", "text": "hi"}, 400, "Pick who you are"),
        ({"as": "sam", "channel": "nowhere", "text": "hi"}, 400, "no channel called #nowhere"),
        ({"as": "sam", "channel": "general", "text": "   "}, 400, "Type a message first"),
        ({"as": "sam", "channel": "general", "text": "x" * 4001}, 400, "longer than 4,000"),
        ({"as": "sam", "channel": "general", "text": "hi", "thread_root": "m999"}, 400, "thread"),
        ({"as": "sam", "channel": "@priya", "text": "hi"}, 400, "no channel called"),
    ],
)
async def test_bad_input_is_refused_with_a_reason_and_changes_nothing(
    pg: Playground, body: dict[str, Any], status: int, error: str
) -> None:
    before = await pg.state()
    got, answer = await pg.post("/messages", body)
    assert got == status and error in answer["error"]
    assert (await pg.state())["messages"] == before["messages"]
    assert pg.events == []


async def test_not_json_and_other_peoples_messages_are_refused(pg: Playground) -> None:
    r = await pg.client.post(
        "/api/playground/messages", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert r.status == 400 and "valid JSON" in (await r.json())["error"]
    mine = await pg.say("mine", "priya")
    status, answer = await pg.post(f"/messages/{mine['id']}/edit", {"as": "sam", "text": "hijack"})
    assert status == 403 and "your own messages" in answer["error"]
    status, _ = await pg.post(f"/messages/{mine['id']}/delete", {"as": "sam"})
    assert status == 403
    assert "mine" in texts(await pg.state())


async def test_forms_open_for_one_person_are_checked_and_come_back_submitted(
    pg: Playground,
) -> None:
    submitted: list[FormSubmitted] = []
    form = Form(
        "test-form",
        "Tell us",
        (
            ShortText("name", "Name", max_length=10),
            Choice("topic", "Topic", (("language", "Language"), ("privilege", "Privilege"))),
            Rating("useful", "How useful?", scale=5),
        ),
        context="ctx-1",
    )

    async def open_it(ix: Interaction, args: Args) -> None:
        await ix.open_form(form)

    async def on_submit(ix: Interaction, event: FormSubmitted) -> None:
        submitted.append(event)

    pg.core.registry.verb("openit", "opens a form", open_it)
    pg.core.registry.form("test-form", on_submit)
    await pg.say("/cop openit")
    state = await pg.until(lambda: _form_for(pg, "sam"))
    assert (await pg.state("priya"))["forms"] == []
    token = state["forms"][0]["token"]
    assert 'name="topic"' in state["forms"][0]["html"]

    status, answer = await pg.post(
        f"/forms/{token}", {"as": "sam", "values": {"name": "far too long a name", "topic": "x"}}
    )
    assert status == 422
    assert answer["errors"] == {
        "name": too_long("far too long a name", 10),  # worded as on Teams
        "topic": "Please pick one of the options.",
        "useful": "Please fill this in.",
    }
    status, _ = await pg.post(f"/forms/{token}", {"as": "priya", "values": {}})
    assert status == 400  # not hers
    values = {"name": "Sam", "topic": "language", "useful": "4"}
    status, _ = await pg.post(f"/forms/{token}", {"as": "sam", "values": values})
    assert status == 200
    await pg.until(lambda: _count_list(submitted, 1))
    assert submitted[0].values == (("name", "Sam"), ("topic", "language"), ("useful", "4"))
    assert submitted[0].context == "ctx-1" and submitted[0].origin.user.id == "sam"
    status, _ = await pg.post(f"/forms/{token}", {"as": "sam", "values": values})
    assert status == 400  # submitted once only


async def test_a_form_sent_twice_at_once_is_kept_once_and_thanked_once(pg: Playground) -> None:
    submitted: list[FormSubmitted] = []
    form = Form("twice", "Tell us", (ShortText("name", "Name"),), thanks="Thank you, noted.")

    async def open_it(ix: Interaction, args: Args) -> None:
        await ix.open_form(form)

    async def on_submit(ix: Interaction, event: FormSubmitted) -> None:
        submitted.append(event)

    pg.core.registry.verb("openit", "opens a form", open_it)
    pg.core.registry.form("twice", on_submit)
    await pg.say("/cop openit")
    token = (await pg.until(lambda: _form_for(pg, "sam")))["forms"][0]["token"]
    body = {"as": "sam", "values": {"name": "Sam"}}
    # A double click: the second arrives while the first is being kept.
    answers = await asyncio.gather(*(pg.post(f"/forms/{token}", body) for _ in range(2)))
    assert [status for status, _ in answers] == [200, 200]
    await pg.until(lambda: _count_list(submitted, 1))
    await pg.say("and then this")  # after anything the second send brought
    said = texts(await pg.state())
    assert said.count("Thank you, noted.") == 1
    assert len(submitted) == 1


async def _form_for(pg: Playground, who: str) -> dict[str, Any] | None:
    state = await pg.state(who)
    return state if state["forms"] else None


async def _count_list(items: list[Any], n: int) -> bool:
    return len(items) >= n


async def test_buttons_on_bot_messages_come_back_as_presses(pg: Playground) -> None:
    pressed: list[ButtonPressed] = []

    async def on_press(ix: Interaction, event: ButtonPressed) -> None:
        pressed.append(event)

    pg.core.registry.action("demo", on_press)
    [north] = await pg.core.channels.find("local", "north")
    channel = north.ref
    ref = await pg.core.chat.post(
        channel, OutgoingMessage.of("Pick", Buttons((Button("demo:1", "Yes <b>", "v&1"),)))
    )
    state = await pg.state(channel="north")
    html = state["messages"][-1]["html"]
    assert (
        'data-action="demo:1"' in html
        and "Yes &lt;b&gt;" in html
        and 'data-value="v&amp;1"' in html
    )
    status, _ = await pg.post(
        "/actions", {"as": "sam", "message_id": ref.id, "action_id": "demo:1", "value": "v&1"}
    )
    assert status == 200
    await pg.until(lambda: _count_list(pressed, 1))
    assert pressed[0].message == ref and pressed[0].value == "v&1"


async def test_a_button_s_answer_shows_where_it_was_pressed(pg: Playground) -> None:
    """Under a message in the channel, the private answer is in the channel (not tucked
    into the message's thread, unopened); pressed in the thread the page has open, there."""

    async def on_press(ix: Interaction, event: ButtonPressed) -> None:
        await ix.reply(f"Noted: {event.value}")

    pg.core.registry.action("demo", on_press)
    [north] = await pg.core.channels.find("local", "north")
    ref = await pg.core.chat.post(
        north.ref, OutgoingMessage.of("Pick", Buttons((Button("demo:1", "Yes", "yes"),)))
    )
    for where, in_thread in (("channel", False), ("thread", True)):
        status, _ = await pg.post(
            "/actions",
            {"as": "sam", "message_id": ref.id, "action_id": "demo:1", "value": where,
             "in_thread": in_thread},
        )  # fmt: skip
        assert status == 200
        answer = await pg.until(lambda w=where: _said_privately(pg, f"Noted: {w}"))
        assert answer["thread_root"] == (ref.id if in_thread else None), where


async def _said_privately(pg: Playground, words: str) -> dict[str, Any] | None:
    state = await pg.state("sam", "north")
    return next((m for m in state["messages"] if m["private"] and words in m["html"]), None)


async def test_direct_messages_are_seen_only_by_their_person(pg: Playground) -> None:
    await pg.core.chat.send_direct(UserRef("local", "sam"), OutgoingMessage.of("Just for you"))
    assert "Just for you" in texts(await pg.state("sam", "@sam"))
    r = await pg.client.get("/api/playground/state?as=priya&channel=@sam")
    assert r.status == 400


async def test_healthz_and_the_page_itself(pg: Playground) -> None:
    r = await pg.client.get("/healthz")
    assert r.status == 200
    # No version: /healthz is public behind the proxy, and a version tells an attacker
    # which known flaws to try (`copbot --version` says it on the server).
    assert await r.json() == {"status": "ok", "database": "ok", "platforms": ["local"]}
    page = await (await pg.client.get("/")).text()
    assert '<script src="/static/app.js"' in page
    assert "http://" not in page and "https://" not in page  # nothing from elsewhere
    assert (await pg.client.get("/static/app.js")).status == 200
    assert (await pg.client.get("/static/../bot/app.py")).status == 404
    assert (await pg.client.get("/static/nothing.js")).status == 404
    # Anyone who opens it acts as anyone: no other site may frame it, and only its own
    # script runs, talking only to this server.
    for path in ("/", "/static/app.js"):
        headers = (await pg.client.get(path)).headers
        policy = headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy
        assert "connect-src 'self'" in policy and "'unsafe-inline'" not in policy
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"


_ALLOWED = re.compile(
    r"</?(strong|em|code|br)>|</a>"
    r"|<a href=\"https?://[^\"<>]*\" target=\"_blank\" rel=\"noopener noreferrer\">"
)


_PIECES = [*"<>&\"'*_`[]()/ab:\n ", "http://x", "https://", "javascript:", "**", "](", "<a "]


@given(st.lists(st.sampled_from(_PIECES), max_size=30).map("".join))
def test_markup_never_lets_a_tag_through(text: str) -> None:
    html = _ALLOWED.sub("", markup(text))
    assert "<" not in html and ">" not in html
    assert 'href="javascript' not in markup(text)


def test_markup_renders_the_small_markup() -> None:
    assert markup("**bold** and _it_ and `<code>`") == (
        "<strong>bold</strong> and <em>it</em> and <code>&lt;code&gt;</code>"
    )
    assert markup("[Acas](https://www.acas.org.uk/x) snake_case_word") == (
        '<a href="https://www.acas.org.uk/x" target="_blank" rel="noopener noreferrer">Acas</a>'
        " snake_case_word"
    )


async def test_a_facilitator_posts_a_prompt_and_staff_reply_in_its_thread(pg: Playground) -> None:
    await pg.say("/cop prompt language", "priya", channel="north")
    state = await pg.until(lambda: _public_bot_messages(pg, "north", 2))
    prompt_message = state["messages"][-1]
    assert "Suggest a prompt" in prompt_message["html"]
    assert "Reply in this thread" in texts(state)[-1]
    reply = await pg.say(
        "In my team we ask people first.", "sam", channel="north", thread_root=prompt_message["id"]
    )
    await pg.until(lambda: _count(pg, 1))
    [posted] = pg.events
    assert posted.thread is not None and posted.thread.root_id == prompt_message["id"]
    assert posted.message.id == reply["id"]
    # the facilitator note went to priya only
    priya = await pg.state("priya", "north")
    assert any(m["private"] and "Facilitator note" in m["html"] for m in priya["messages"])
    sam = await pg.state("sam", "north")
    assert not any("Facilitator note" in m["html"] for m in sam["messages"])


async def _public_bot_messages(pg: Playground, channel: str, n: int) -> dict[str, Any] | None:
    state = await pg.state("sam", channel)
    public = [m for m in state["messages"] if m["bot"] and not m["private"]]
    return state if len(public) >= n else None


async def test_the_archive_follows_the_playground_capture_edit_delete_optout_erase(
    pg: Playground, db_path: Path
) -> None:
    from click.testing import CliRunner

    from bot.archive_export import FIELDS
    from bot.cli import cli
    from storage.archive_reader import SqliteArchiveReader

    def archive() -> list[dict[str, Any]]:
        reader = SqliteArchiveReader(db_path)
        return [
            dict(zip(FIELDS, r, strict=True)) for r in reader.rows(ArchiveFilter(), by_thread=False)
        ]

    def stored() -> bytes:
        wal = Path(f"{db_path}-wal")
        return db_path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")

    await pg.say("/cop prompt language", "priya", channel="north")
    state = await pg.until(lambda: _public_bot_messages(pg, "north", 2))
    root = state["messages"][-1]["id"]
    kept = await pg.say("Asking beats assuming.", "sam", channel="north", thread_root=root)
    gone = await pg.say(
        "Something xylophonically regrettable", "sam", channel="north", thread_root=root
    )
    await pg.say("Priya's thought on it", "priya", channel="north", thread_root=root)
    await pg.say("Just chatting, not in a thread", "sam", channel="north")
    await pg.until(lambda: _archived(archive, 3))
    await pg.post(
        f"/messages/{kept['id']}/edit", {"as": "sam", "text": "Asking beats assuming, always."}
    )
    await pg.post(f"/messages/{gone['id']}/delete", {"as": "sam"})
    await pg.until(lambda: _archived(archive, 2))
    texts_now = sorted(r["text"] for r in archive())
    assert texts_now == ["Asking beats assuming, always.", "Priya's thought on it"]
    # the delete is scrubbed from the file once its own event is marked handled
    await pg.until(lambda: _gone(stored, b"xylophonically"))

    await pg.say("/cop optout", "sam", channel="north")
    await pg.until(lambda: _archived(archive, 1))
    await pg.until(lambda: _gone(stored, b"Asking beats assuming"))

    result = await asyncio.to_thread(
        CliRunner().invoke, cli, ["erase", "--user", "local:priya", "--db", str(db_path)]
    )
    assert result.exit_code == 0 and "Erased 1 message(s)" in result.output
    assert archive() == []
    await pg.until(lambda: _gone(stored, b"Priya's thought"))


async def _archived(read: Callable[[], list[dict[str, Any]]], n: int) -> bool:
    return len(read()) == n


async def test_other_web_pages_cannot_act_through_the_playground(pg: Playground) -> None:
    attack = '{"as": "alex", "channel": "general", "text": "/cop role grant admin slack:UEVIL"}'
    # a form on another site can send text/plain without asking first: refused
    r = await pg.client.post(
        "/api/playground/messages", data=attack, headers={"Content-Type": "text/plain"}
    )
    assert r.status == 415
    # a script on another site, naming where it comes from: refused
    r = await pg.client.post(
        "/api/playground/messages",
        data=attack,
        headers={"Content-Type": "application/json", "Origin": "https://evil.example"},
    )
    assert r.status == 403 and "its own page" in (await r.json())["error"]
    assert (await pg.core.roles.role_of("slack:UEVIL")).name == "STAFF"
    # the page itself (same origin) is fine
    r = await pg.client.post(
        "/api/playground/messages",
        json={"as": "sam", "channel": "general", "text": "hello"},
        headers={"Origin": str(pg.client.make_url("")).rstrip("/")},
    )
    assert r.status == 200


async def test_a_role_granted_to_a_persona_can_be_revoked_and_the_picker_shows_it(
    pg: Playground, db_path: Path
) -> None:
    async def picker(who: str) -> str:
        state = await pg.state("alex")
        return next(p["role"] for p in state["personas"] if p["id"] == who)

    assert await picker("priya") == "facilitator"
    # Granted by persona name, as the help says (@person), in any case.
    await pg.say("/cop role grant admin @Sam Okafor", "alex")
    assert "Sam Okafor (local:sam) is now an admin" in await pg.until(
        lambda: _said(pg, "alex", "general", "now an admin")
    )
    assert await picker("sam") == "admin"
    await pg.say("/cop role revoke admin @sam", "alex")
    assert await pg.until(lambda: _said(pg, "alex", "general", "no longer an admin"))
    assert await picker("sam") == "staff"
    # A persona's starting role is an ordinary grant: it can go, and stays gone.
    await pg.say("/cop role revoke facilitator @PRIYA", "alex")
    assert await pg.until(lambda: _said(pg, "alex", "general", "no longer a facilitator"))
    assert await picker("priya") == "staff"
    assert await pg.core.roles.role_of("local:priya") is Role.STAFF
    await pg.client.close()
    async with TestClient(TestServer(create_app(Settings(db_path=db_path)))) as client:
        again = Playground(client)
        assert await again.core.roles.role_of("local:priya") is Role.STAFF
        assert await again.core.roles.role_of("local:alex") is Role.ADMIN


async def test_commands_are_answered_however_they_are_typed(pg: Playground) -> None:
    for typed in ("/COP WHOAMI", "@copbot whoami", "@CopBot   whoami"):
        before = await _answers(pg, "sam", "general")
        assert (await pg.say(typed))["command"] is True
        answers = await pg.until(lambda b=before: _more_answers(pg, "sam", "general", b))
        assert "You are Sam Okafor (local:sam)" in answers[-1]
    # In copbot's direct conversation there is nobody else to talk to: all is a command.
    assert (await pg.say("whoami", "sam", "@sam"))["command"] is True
    assert await pg.until(lambda: _said(pg, "sam", "@sam", "You are Sam Okafor"))


async def _answers(pg: Playground, who: str, channel: str) -> list[str]:
    """The private answers to ``who`` in ``channel``."""
    state = await pg.state(who, channel)
    return [t for m, t in zip(state["messages"], texts(state), strict=True) if m["private"]]


async def _more_answers(pg: Playground, who: str, channel: str, before: list[str]) -> list[str]:
    answers = await _answers(pg, who, channel)
    return answers if len(answers) > len(before) else []


async def test_a_mistyped_command_gets_a_private_hint(pg: Playground) -> None:
    for typed, hint in (("/cops help", "/cop help"), ("cop whoami", "/cop whoami")):
        await pg.say(typed)
        answer = await pg.until(lambda h=hint: _said(pg, "sam", "general", h))
        assert answer.startswith("Did you mean")
        assert not any(m["private"] for m in (await pg.state("priya"))["messages"])


async def test_an_unknown_at_name_is_refused_and_changes_nothing(pg: Playground) -> None:
    await pg.say("/cop role grant admin @nobody", "alex")
    assert await pg.until(lambda: _said(pg, "alex", "general", "@nobody  is"))
    assert await pg.core.roles.role_of("local:nobody") is Role.STAFF


async def _gone(read: Callable[[], bytes], word: bytes) -> bool:
    return word not in read()


async def test_the_private_channel_is_there_for_its_members_only(pg: Playground) -> None:
    assert "#leads (private)" not in [c["name"] for c in (await pg.state("sam"))["channels"]]
    assert "#leads (private)" in [c["name"] for c in (await pg.state("priya"))["channels"]]
    r = await pg.client.get("/api/playground/state?as=sam&channel=leads")
    assert r.status == 400
    status, body = await pg.post("/messages", {"as": "sam", "channel": "leads", "text": "hi"})
    assert status == 400 and "no channel called #leads" in body["error"]


async def test_search_finds_a_private_channels_messages_for_its_members_only(
    pg: Playground,
) -> None:
    await pg.until(lambda: _with_messages_as(pg, "priya", "leads"))  # copbot said hello
    await pg.say("/cop archive on", "alex", "leads")
    await pg.until(lambda: _said(pg, "alex", "leads", "is now kept in the archive"))
    await pg.say("Between us leads: zanzibarian budget worries", "priya", "leads")
    await pg.say("/cop archive on", "alex", "general")
    await pg.until(lambda: _said(pg, "alex", "general", "is now kept in the archive"))
    await pg.say("zanzibarian, said where it is kept", "priya", "general")
    # Both kept before anyone searches: a search is answered ahead of capture, so it could
    # otherwise come before the messages reach the archive.
    await pg.until(lambda: _archived_hits(pg, "zanzibarian", 2))
    # The attack: Sam, outside #leads, searches a word from it.
    await pg.say("/cop search zanzibarian", "sam", "general")
    outside = await pg.until(lambda: _said(pg, "sam", "general", "from the archive"))
    assert "budget" not in outside and "#leads" not in outside
    assert "said where it is kept" in outside
    await pg.say("/cop search zanzibarian", "priya", "general")
    inside = await pg.until(lambda: _said(pg, "priya", "general", "from the archive"))
    assert "budget" in inside and "#leads" in inside


async def _archived_hits(pg: Playground, word: str, n: int) -> bool:
    """The archive holds ``n`` messages with ``word``, whoever may see them."""
    return len(await pg.core.archive.search(parse_terms(word), ArchiveFilter(), 10)) == n


async def _with_messages_as(pg: Playground, who: str, channel: str) -> bool:
    return bool((await pg.state(who, channel))["messages"])


async def _said(pg: Playground, who: str, channel: str, words: str) -> str:
    """The last private answer to ``who`` holding ``words``, or ""."""
    state = await pg.state(who, channel)
    answers = [t for m, t in zip(state["messages"], texts(state), strict=True) if m["private"]]
    return next((t for t in reversed(answers) if words in t), "")


async def test_message_times_are_shown_in_copbots_time_zone(db_path: Path) -> None:
    # New York is never UTC, so a browser's or server's own zone can't pass for it.
    settings = Settings(db_path=db_path, timezone=ZoneInfo("America/New_York"))
    async with TestClient(TestServer(create_app(settings))) as client:
        pg = Playground(client)
        await pg.settled()
        [hello] = (await pg.state())["messages"]
    at = datetime.fromisoformat(hello["at"])
    assert hello["when"] == for_people(at, ZoneInfo("America/New_York"))
    assert re.fullmatch(
        r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d", hello["when"]
    )


async def test_role_list_names_personas_who_have_not_said_anything_yet(pg: Playground) -> None:
    # The console names them already; so does chat, rather than a bare local:priya.
    assert (await pg.say("/cop role list", "sam"))["command"] is True
    state = await pg.until(lambda: _private_answer(pg, "sam"))
    listed = texts(state)[-1]
    assert "Priya Shah: facilitator" in listed and "Alex Morgan: admin" in listed
    assert "local:" not in listed  # staff see names, not identities
    assert (await pg.say("/cop role list", "alex"))["command"] is True
    said = await pg.until(lambda: _said(pg, "alex", "general", "Facilitators and admins"))
    assert "Priya Shah (local:priya): facilitator" in said  # admins grant by identity
    # Typed as the README's first five minutes has it, before Priya has said anything:
    # a persona is no stranger whose identity may be mistyped.
    await pg.say("/cop role grant admin local:priya", "alex")
    granted = await pg.until(lambda: _said(pg, "alex", "general", "now an admin"))
    assert granted == "Priya Shah (local:priya) is now an admin."


async def test_a_reply_that_mentions_copbot_is_kept_and_a_command_is_not(
    pg: Playground,
) -> None:
    """As on Slack and Teams: "@copbot thanks…" in a prompt's thread is a reply like any
    other, there for everyone and kept, and answered kindly; "@copbot search…" is a command,
    answered and not kept."""
    await pg.say("/cop prompt language", "priya", channel="north")
    state = await pg.until(lambda: _public_bot_messages(pg, "north", 2))
    root = state["messages"][-1]["id"]
    thanks = "@copbot thanks, I found the language prompt useful"
    await pg.say(thanks, "sam", channel="north", thread_root=root)
    await pg.say("@copbot search bias", "sam", channel="north", thread_root=root)
    await pg.say("An ordinary reply", "sam", channel="north", thread_root=root)
    answer = await pg.until(lambda: _said(pg, "sam", "north", "part of the conversation"))
    assert "I don't know the command" not in answer
    await pg.until(lambda: _said(pg, "sam", "north", "bias"))
    await pg.until(lambda: _archived_hits(pg, "ordinary", 1))
    kept = await pg.core.archive.search(parse_terms("copbot"), ArchiveFilter(), 10)
    assert [hit.message.text for hit in kept] == [thanks]
    # Everyone in the channel sees the reply in the thread, as on Slack and Teams.
    seen = texts(await pg.state("priya", "north"))
    assert any(thanks in t for t in seen)


async def test_a_mention_in_mid_sentence_is_conversation_kept_without_a_note(
    pg: Playground,
) -> None:
    """As on Slack and Teams: only a message that starts with @copbot asks it something;
    one naming copbot in passing ("Hey @copbot help") is a reply, kept and left alone."""
    await pg.say("/cop prompt language", "priya", channel="north")
    state = await pg.until(lambda: _public_bot_messages(pg, "north", 2))
    root = state["messages"][-1]["id"]
    passing = "Hey @copbot help"
    assert "command" not in await pg.say(passing, "sam", channel="north", thread_root=root)
    await pg.until(lambda: _archived_hits(pg, "hey", 1))
    assert not [m for m in (await pg.state("sam", "north"))["messages"] if m["private"]]


async def test_what_names_copbot_is_kept_only_as_a_reply_is_and_never_as_a_command(
    pg: Playground,
) -> None:
    """A message naming copbot is kept only where and while it is conversation: edited into
    a command it leaves the archive (copbot doesn't run an edit, and keeps no command);
    a command edited into conversation is kept as any reply; deleted, it goes; nothing is
    kept of someone opted out, nor outside prompt threads in a channel that keeps none."""
    await pg.say("/cop prompt language", "priya", channel="north")
    state = await pg.until(lambda: _public_bot_messages(pg, "north", 2))
    root = state["messages"][-1]["id"]

    async def say(text: str, who: str = "sam", **kw: Any) -> str:
        return str((await pg.say(text, who, channel="north", **kw))["id"])

    async def edit(ident: str, text: str) -> None:
        assert (await pg.post(f"/messages/{ident}/edit", {"as": "sam", "text": text}))[0] == 200

    async def kept() -> list[str]:
        hits = await pg.core.archive.search(parse_terms("copbot"), ArchiveFilter(), 10)
        return sorted(hit.message.text for hit in hits)

    thanks = await say("@copbot thanks, quinceword", thread_root=root)
    passing = await say("As @copbot asked, plumword", thread_root=root)
    command = await say("@copbot search bias", thread_root=root)
    gone = await say("@copbot cheers, damsonword", thread_root=root)
    await say("@copbot thanks, not in a thread")
    await say("Ordinary marker", thread_root=root)
    await pg.until(lambda: _archived_hits(pg, "marker", 1))
    assert await kept() == [
        "@copbot cheers, damsonword",
        "@copbot thanks, quinceword",
        "As @copbot asked, plumword",
    ]
    await edit(thanks, "@copbot search quinceword")
    await edit(passing, "@copbot search plumword")
    await edit(command, "@copbot that search helped, thanks")
    await pg.post(f"/messages/{gone}/delete", {"as": "sam"})
    await say("Second marker", thread_root=root)
    await pg.until(lambda: _archived_hits(pg, "marker", 2))
    assert await kept() == ["@copbot that search helped, thanks"]

    await pg.say("/cop optout", "sam", channel="north")
    await pg.until(lambda: _said(pg, "sam", "north", "won't keep"))
    await say("@copbot thanks again, opted out", thread_root=root)
    await say("Third marker", "priya", thread_root=root)
    await pg.until(lambda: _archived_hits(pg, "marker", 1))  # Sam's two went with the opt-out
    assert await kept() == []
