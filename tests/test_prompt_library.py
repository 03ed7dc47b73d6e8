from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from prompts import LIBRARY_DIR, LibraryError, load_library
from tests.support.server import free_port, run

REQUIRED = {
    "equality-act",
    "unconscious-bias",
    "language",
    "privilege",
    "discomfort",
    "race-and-clients",
}

GOOD_PROMPT = """
[[prompts]]
id = "lang-asking"
title = "Asking, not assuming"
text = "How do you ask people how they describe themselves?"
follow_ups = ["What gets in the way?"]
facilitator_note = "Let people speak from experience."
"""


def write_topic(folder: Path, body: str, slug: str = "lang", head: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    head = (
        head if head is not None else f'slug = "{slug}"\ntitle = "Language"\nsummary = "Words."\n'
    )
    path = folder / f"{slug}.toml"
    path.write_text(head + textwrap.dedent(body))
    return path


def test_the_shipped_library_is_complete_and_valid() -> None:
    library = load_library()
    slugs = {t.slug for t in library.topics}
    assert slugs >= REQUIRED
    assert len(slugs - REQUIRED) >= 2  # practice through an equity lens
    for topic in library.topics:
        assert len(topic.prompts) >= 5, topic.slug
        for prompt in topic.prompts:
            assert 1 <= len(prompt.follow_ups) <= 3
            assert prompt.facilitator_note
            assert all(r.url.startswith("https://") for r in prompt.resources)
    ids = [p.id for p in library.prompts]
    assert len(ids) == len(set(ids))


def test_a_good_file_passes(tmp_path: Path) -> None:
    write_topic(tmp_path, GOOD_PROMPT)
    library = load_library(tmp_path)
    assert [p.id for p in library.prompts] == ["lang-asking"]
    assert library.prompt("lang-asking").follow_ups == ("What gets in the way?",)  # type: ignore[union-attr]


BROKEN = [
    ("not toml", GOOD_PROMPT + "\nthis is = = wrong", "lang.toml: not valid TOML"),
    (
        "missing field",
        GOOD_PROMPT.replace('facilitator_note = "Let people speak from experience."\n', ""),
        "lang.toml: prompt 'lang-asking': facilitator_note: missing",
    ),
    (
        "too many follow-ups",
        GOOD_PROMPT.replace('["What gets in the way?"]', '["a?", "b?", "c?", "d?"]'),
        "lang.toml: prompt 'lang-asking': follow_ups: give 1 to 3 follow-up questions (found 4)",
    ),
    (
        "misspelt field",
        GOOD_PROMPT.replace("follow_ups =", "follow_up ="),
        "lang.toml: prompt 'lang-asking': follow_up: not a prompt field; did you mean 'follow_ups'?",
    ),
    (
        "id outside its topic",
        GOOD_PROMPT.replace('id = "lang-asking"', 'id = "asking"'),
        "lang.toml: prompt 'asking': id: start it with the topic, like lang-asking",
    ),
    (
        "bad id",
        GOOD_PROMPT.replace('id = "lang-asking"', 'id = "Lang Asking"'),
        "lang.toml: prompt 'Lang Asking': id: write it in lower case with hyphens",
    ),
    (
        "long title",
        GOOD_PROMPT.replace("Asking, not assuming", "x" * 81),
        "lang.toml: prompt 'lang-asking': title: keep it to 80 characters (it has 81)",
    ),
    (
        "insecure link",
        GOOD_PROMPT + '[[prompts.resources]]\ntitle = "A page"\nurl = "http://example.org"\n',
        "lang.toml: prompt 'lang-asking': resources: url: 'http://example.org' must be a public",
    ),
    ("no prompts", "", "lang.toml: prompts: the topic has no [[prompts]]"),
]


@pytest.mark.parametrize(("case", "body", "message"), BROKEN, ids=[b[0] for b in BROKEN])
def test_each_kind_of_broken_file_names_file_prompt_and_field(
    tmp_path: Path, case: str, body: str, message: str
) -> None:
    write_topic(tmp_path, body)
    with pytest.raises(LibraryError) as e:
        load_library(tmp_path)
    assert message in str(e.value)


def test_a_slug_that_does_not_match_its_file_is_refused(tmp_path: Path) -> None:
    write_topic(tmp_path, GOOD_PROMPT, head='slug = "other"\ntitle = "T"\nsummary = "S"\n')
    with pytest.raises(LibraryError, match=r"lang.toml: slug: 'other' must match the file name"):
        load_library(tmp_path)


def test_duplicate_ids_across_files_are_refused(tmp_path: Path) -> None:
    # "lang-x-a" is a fine id in both topic "lang" and topic "lang-x"
    write_topic(tmp_path, GOOD_PROMPT.replace("lang-asking", "lang-x-a"))
    write_topic(
        tmp_path,
        GOOD_PROMPT.replace("lang-asking", "lang-x-a"),
        slug="lang-x",
        head='slug = "lang-x"\ntitle = "T"\nsummary = "S"\n',
    )
    with pytest.raises(LibraryError) as e:
        load_library(tmp_path)
    assert "lang.toml: prompt 'lang-x-a': id: already used in" in str(e.value)
    assert "lang-x.toml" in str(e.value)


def test_validate_command_passes_the_shipped_library() -> None:
    result = CliRunner().invoke(cli, ["prompts", "validate"])
    assert result.exit_code == 0
    library = load_library()
    assert result.output.startswith(
        f"OK: {len(library.topics)} topics, {len(library.prompts)} prompts in {LIBRARY_DIR}"
    )


def test_validate_command_fails_with_the_message_and_status_1(tmp_path: Path) -> None:
    path = write_topic(tmp_path, GOOD_PROMPT.replace("follow_ups =", "follow_up ="))
    result = CliRunner().invoke(cli, ["prompts", "validate", str(path)])
    assert result.exit_code == 1
    assert "follow_up: not a prompt field; did you mean 'follow_ups'?" in result.output
    assert "Traceback" not in result.output


@pytest.mark.subprocess
def test_serve_refuses_a_broken_library_with_the_same_message(tmp_path: Path) -> None:
    write_topic(tmp_path / "library", GOOD_PROMPT.replace("follow_ups =", "follow_up ="))
    result = run(
        ["serve", "--port", str(free_port()), "--db", str(tmp_path / "x.db")],
        env={"COPBOT_PROMPT_LIBRARY": str(tmp_path / "library")},
    )
    assert result.returncode == 1
    assert "Error: the prompt library has problems:" in result.stderr
    assert "follow_up: not a prompt field; did you mean 'follow_ups'?" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x.db").exists()  # refused before anything was touched


ADDED = """
topic = "language"

[[prompts]]
id = "language-front-desk"
title = "Words at the front desk"
text = "What words greet people when they first arrive at your service?"
follow_ups = ["Who chose them?"]
facilitator_note = "Invite examples rather than judgements."
"""


def test_validate_accepts_exactly_the_files_prompts_add_accepts(tmp_path: Path) -> None:
    db = str(tmp_path / "copbot.db")
    good = tmp_path / "good.toml"
    good.write_text(ADDED)
    checked = CliRunner().invoke(cli, ["prompts", "validate", str(good), "--db", db])
    assert checked.exit_code == 0, checked.output
    assert "adds 1 prompt(s) to language" in checked.output
    assert not (tmp_path / "copbot.db").exists()  # validating creates no database
    assert CliRunner().invoke(cli, ["db", "migrate", "--db", db]).exit_code == 0
    assert CliRunner().invoke(cli, ["prompts", "add", str(good), "--db", db]).exit_code == 0
    # Once added, the same file is refused by both, for the same reason.
    for command in ("validate", "add"):
        again = CliRunner().invoke(cli, ["prompts", command, str(good), "--db", db])
        assert again.exit_code == 1
        assert "prompt 'language-front-desk': id: already in the library" in again.output
        assert "prompt library has problems" not in again.output  # the file's, not the library's
    added_again = CliRunner().invoke(cli, ["prompts", "add", str(good), "--db", db])
    assert added_again.output.startswith("Error: Nothing was added: good.toml has problems.")


def test_validate_reports_every_problem_of_a_file_to_add_not_the_first(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        ADDED.replace('topic = "language"', 'topic = "langauge"\nauthor = "me"').replace(
            'follow_ups = ["Who chose them?"]', "follow_ups = []"
        )
        + ADDED.split("\n", 2)[2]
        .replace("front-desk", "short")
        .replace("Invite examples rather than judgements.", "Be kind.")
    )
    result = CliRunner().invoke(
        cli, ["prompts", "validate", str(bad), "--db", str(tmp_path / "x.db")]
    )
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert any("author: not a field" in line for line in lines)
    assert any("topic: name one of the topics" in line for line in lines)
    assert any("'language-front-desk': follow_ups: give 1 to 3" in line for line in lines)
    assert any("'language-short': facilitator_note: give it at least" in line for line in lines)
    assert "Traceback" not in result.output


def test_the_json_listing_says_which_prompts_were_added_even_once_their_author_is_erased(
    tmp_path: Path,
) -> None:
    db = ["--db", str(tmp_path / "copbot.db")]
    good = tmp_path / "good.toml"
    good.write_text(ADDED)
    assert CliRunner().invoke(cli, ["db", "migrate", *db]).exit_code == 0
    added = CliRunner().invoke(cli, ["prompts", "add", str(good), "--by", "slack:U2", *db])
    assert added.exit_code == 0, added.output

    def listed() -> dict[str, dict[str, object]]:
        out = CliRunner().invoke(cli, ["prompts", "list", "--format", "json", *db]).output
        return {p["id"]: p for p in json.loads(out)}

    before = listed()
    assert before["language-front-desk"]["added"] is True
    assert before["language-front-desk"]["added_by"] == "slack:U2"
    shipped = [p for p in before.values() if p["id"] != "language-front-desk"]
    assert shipped and all(p["added"] is False and p["added_by"] == "" for p in shipped)
    erased = CliRunner().invoke(cli, ["erase", "--user", "slack:U2", *db])
    assert erased.exit_code == 0, erased.output
    after = listed()["language-front-desk"]
    assert after["added"] is True and after["added_by"] == ""  # added still, by nobody named
