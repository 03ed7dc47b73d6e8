"""An anonymous form answered in a person's 1:1 chat, through the real Teams wiring: nothing
in copbot's database file or its WAL points at the person."""

from __future__ import annotations

from bot.model import ChannelKind, ChannelRef, FormSubmitted, Origin, UserRef
from tests.teams.conftest import TeamsBot, open_dialog
from tests.teams.fake_connector import TENANT
from tests.test_anonymity import FORM, WORDS, listen, stored_bytes

PRIYA = {"id": "29:1priya-teams-id", "name": "Priya Shah", "aadObjectId": "aad-priya-0002"}
CHAT = "a:1priya-personal-chat"


async def test_teams_anonymous_form_from_the_personal_chat(teams: TeamsBot) -> None:
    got: list[FormSubmitted] = []
    listen(teams.core, got)
    await teams.install()
    chat = ChannelRef("teams", CHAT, TENANT, "", ChannelKind.DIRECT)
    await teams.adapter.open_form(Origin(UserRef("teams", "aad-priya-0002"), chat), FORM)
    [sent] = await teams.until(lambda: teams.fake.of("send"))
    assert sent.conversation == CHAT
    personal = {"conversationType": "personal", "tenantId": TENANT, "id": CHAT}
    # Teams opens a dialog only from a button: the card's one button opens the form.
    dialog = await open_dialog(teams, sent, conversation=personal, **{"from": PRIYA})
    data = dialog["actions"][0]["data"]
    answer = teams.activity(
        "task_submit",
        id="1700000009999",
        value={"type": "task/submit", "data": data | {"f.thoughts": WORDS}, "context": {}},
        conversation=personal,
        **{"from": PRIYA},
    )
    assert (await teams.send(answer)).status == 200
    [event] = await teams.until(lambda: got)

    assert event.origin.user.is_anonymous and event.origin.handle == ""
    assert event.origin.channel.id != CHAT
    stored = stored_bytes(teams.db_path)
    assert WORDS.encode() in stored  # the answer is kept, so the scan below means something
    for trace in (b"aad-priya", b"29:1priya", b"Priya", CHAT.encode()):
        assert trace not in stored, trace
    assert len(teams.fake.of("send")) == 1  # nobody to answer: nothing more was sent
