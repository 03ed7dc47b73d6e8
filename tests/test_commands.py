from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.commands import (
    CommandBook,
    CommandError,
    UsageError,
    Verb,
    parse_person,
    parse_role,
    tokenize,
)
from bot.model import Role


def book_of(*verbs: tuple[str, str]) -> CommandBook:
    """A book of these verbs, each (name, usage)."""
    book = CommandBook()
    for name, usage in verbs:
        book.add(Verb(name, f"does {name}", usage))
    return book


@pytest.fixture
def book() -> CommandBook:
    return book_of(
        ("help", "[command]"),
        ("prompt", "[topic|prompt-id]"),
        ("prompt add", ""),
        ("role grant", "ROLE @person"),
        ("role revoke", "ROLE @person"),
        ("schedule list", ""),
    )


def test_one_and_two_word_verbs_are_found_longest_first(book: CommandBook) -> None:
    parsed = book.parse("prompt add")
    assert parsed.verb.name == "prompt add" and parsed.args.words == ()
    parsed = book.parse("prompt equality-act")
    assert parsed.verb.name == "prompt" and parsed.args.words == ("equality-act",)
    parsed = book.parse("ROLE Grant facilitator <@slack:U1>")
    assert parsed.verb.name == "role grant"
    assert parsed.args.words == ("facilitator", "<@slack:U1>")


def test_empty_command_means_help(book: CommandBook) -> None:
    assert book.parse("   ").verb.name == "help"


def test_quotes_group_words_and_phone_quotes_work(book: CommandBook) -> None:
    assert book.parse('prompt "two words" three').args.words == ("two words", "three")
    assert book.parse("prompt “smart quotes” ok").args.words == ("smart quotes", "ok")


def test_unbalanced_quote_is_a_friendly_error(book: CommandBook) -> None:
    with pytest.raises(CommandError, match="quote in your command that isn't closed"):
        book.parse('prompt "oops')


def test_unknown_verb_suggests_the_nearest(book: CommandBook) -> None:
    with pytest.raises(CommandError) as e:
        book.parse("promt equality-act")
    assert "`promt`" in str(e.value)
    assert "Did you mean `/cop prompt`?" in str(e.value)
    with pytest.raises(CommandError, match="Type `@copbot help`"):
        book.parse("xyzzy", prefix="@copbot")


def test_group_word_without_a_known_subverb_lists_the_choices(book: CommandBook) -> None:
    with pytest.raises(CommandError) as e:
        book.parse("role promote x")
    assert "`role promote` isn't something I know" in str(e.value)
    assert "`/cop role grant`" in str(e.value) and "`/cop role revoke`" in str(e.value)
    with pytest.raises(CommandError) as e:
        book.parse("schedule")
    assert str(e.value).startswith("`/cop schedule` needs one more word. Try one of: ")


def test_verbs_are_registered_once_and_are_one_or_two_words(book: CommandBook) -> None:
    with pytest.raises(ValueError, match="twice"):
        book.add(Verb("help", "again"))
    with pytest.raises(ValueError, match="one or two words"):
        book.add(Verb("a b c", "too long"))


def test_available_verbs_follow_the_role() -> None:
    b = CommandBook()
    b.add(Verb("help", "h"))
    b.add(Verb("schedule list", "s", role=Role.FACILITATOR))
    b.add(Verb("export", "e", role=Role.ADMIN))
    assert [v.name for v in b.available_to(Role.STAFF)] == ["help"]
    assert [v.name for v in b.available_to(Role.FACILITATOR)] == ["help", "schedule list"]
    assert [v.name for v in b.available_to(Role.ADMIN)] == ["export", "help", "schedule list"]


def test_people_are_mentions_or_identities() -> None:
    assert parse_person("<@slack:U1|sam>").identity == "slack:U1"
    assert parse_person("<@slack:U1>").identity == "slack:U1"
    assert parse_person("teams:abc-1").identity == "teams:abc-1"
    with pytest.raises(UsageError, match="couldn't tell who `@sam` is"):
        parse_person("@sam")


def test_roles_in_commands() -> None:
    assert parse_role("Facilitator") is Role.FACILITATOR
    with pytest.raises(UsageError, match="Everyone is staff already"):
        parse_role("staff")
    with pytest.raises(UsageError, match="isn't a role"):
        parse_role("chief")


@given(st.text(max_size=80))
def test_any_text_parses_or_fails_with_a_command_error(text: str) -> None:
    b = CommandBook()
    b.add(Verb("help", "h"))
    try:
        parsed = b.parse(text)
    except CommandError as e:
        assert str(e)
    else:
        assert parsed.verb.name == "help"


def test_tokenize_keeps_mentions_whole() -> None:
    assert tokenize("grant admin <@teams:29f-1|Ade O'Bello>") == [
        "grant",
        "admin",
        "<@teams:29f-1>",
    ]


@pytest.mark.parametrize(
    ("said", "mistyped"),
    [
        ("hlep me", True),
        ("promt language", True),
        ("Scheduel list", True),
        ("hello everyone", False),  # someone talking: no message is sent them for it
        ("helpful session, thanks", False),
        ("thanks for this", False),
        ("", False),
    ],
)
def test_only_a_word_very_close_to_a_verb_is_taken_for_a_mistyped_command(
    book: CommandBook, said: str, mistyped: bool
) -> None:
    assert book.looks_mistyped(said) is mistyped


@pytest.mark.parametrize(
    ("said", "verb"),
    [
        ("optout, please", "optout"),  # a comma after the verb leaves it the verb
        ("Optout.", "optout"),
        ("help!", "help"),
        ("optout, please don't keep what I write", "optout"),  # an apostrophe is no quote
        ("role grant: facilitator <@slack:U1>", "role grant"),
    ],
)
def test_a_verb_is_found_with_punctuation_after_it(said: str, verb: str) -> None:
    book = book_of(
        ("optout", ""),
        ("help", "[command]"),
        ("role grant", "ROLE @person"),
    )
    assert book.is_command(said)
    assert book.parse(said).verb.name == verb


@pytest.mark.parametrize(
    ("said", "verb"),
    [
        ("archive, on balance I'd keep this", "archive"),
        ("feedback, open to all of you", "feedback"),
        ("archive on.", "archive on"),
        ("feedback open: Tuesday drop-in", "feedback open"),
    ],
)
def test_punctuation_after_the_first_word_ends_the_verb(said: str, verb: str) -> None:
    """A comma after "archive" is a sentence going on, never `archive on`: a facilitator
    talking would otherwise switch a channel's archive on, or open a round."""
    book = book_of(
        ("archive", ""),
        ("archive on", ""),
        ("feedback", ""),
        ("feedback open", '["TITLE"]'),
    )
    assert book.parse(said).verb.name == verb


def test_a_quote_left_open_after_a_verb_that_takes_words_is_still_refused() -> None:
    book = CommandBook()
    book.add(Verb("prompt", "does prompt", "[topic]"))
    with pytest.raises(CommandError, match="quote in your command that isn't closed"):
        book.parse("prompt don't")


def test_an_unknown_second_word_after_a_verb_with_a_comma_names_the_first_as_typed() -> None:
    book = CommandBook()
    book.add(Verb("role grant", "does it", "ROLE @person"))
    with pytest.raises(CommandError) as e:
        book.parse("role, anything")
    assert "`role anything` isn't something I know" in str(e.value)
    assert "`/cop role grant`" in str(e.value)


def test_an_apostrophe_after_an_unknown_second_word_opens_no_quote() -> None:
    book = CommandBook()
    book.add(Verb("schedule list", "does it"))
    with pytest.raises(CommandError) as e:
        book.parse("schedule, what's on this week?")
    assert "`schedule what's` isn't something I know" in str(e.value)
    with pytest.raises(CommandError) as e:
        book.parse("sechdule what's on")
    assert "quote" not in str(e.value) and "`sechdule`" in str(e.value)
