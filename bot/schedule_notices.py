"""What a schedule's owner is told when a scheduled post is missed, fails or may not have
gone out. Pure: the words alone, for the schedules feature to send."""

from __future__ import annotations

from bot.records import JobState
from bot.scheduler import STOPPED


def trouble_words(
    state: JobState, where: str, when: str, error: str, again: str, *, theirs: str = ""
) -> str | None:
    """The owner's message for a job ending in ``state``, or None when there is nothing to
    tell. ``error``: the job's error worded for people, or "" when it was not; ``again``:
    the command that resumes a paused schedule, or "" while it runs; ``theirs``: the
    command that lists facilitators, when the owner is no longer one and so can't resume
    it themselves."""
    if again and theirs:
        # Told to run a command they would be refused: whom to ask instead.
        again = f"a facilitator can start it again with {again} ({theirs} shows who they are)"
    elif again:
        again = f"{again} starts it again"
    failed = f"I couldn't post the scheduled prompt in {where} due on {when}."
    if not error:
        # Not in words (a platform's own error may quote anyone): only what happened.
        # The platform or copbot itself: which, and why, is for whoever reads its log.
        failed += (
            " Something kept going wrong, even after I tried again; whoever runs copbot "
            "can see what in its log."
        )
    else:
        failed += f" {_sentence(error)}"
    if again and error:
        failed += (
            " So I've paused the schedule rather than have it fail each time it comes "
            f"due. Once that's put right, {again}."
        )
    elif again:
        failed += f" The schedule is paused; {again}."
    else:
        failed += (
            " The schedule carries on; if this keeps happening, check that copbot is "
            "still in the channel."
        )
    unsure = (
        f"copbot restarted while posting the scheduled prompt in {where} due on {when}."
        if error == STOPPED
        else f"The chat platform didn't answer when I posted the scheduled prompt in "
        f"{where} due on {when}."
    )
    says = {
        JobState.MISSED: (
            f"copbot wasn't running on {when}, so it didn't post the scheduled prompt in "
            f"{where} then; a late prompt can land in the middle of other things. "
            "The schedule carries on as normal."
        ),
        JobState.FAILED: failed,
        JobState.INTERRUPTED: (
            f"{unsure} It may or may not have gone out, so I haven't tried again in case "
            "it would appear twice: please have a look."
        ),
    }
    return says.get(state)


def _sentence(text: str) -> str:
    """A platform's or copbot's refusal as a whole sentence, to follow another."""
    text = text.strip()
    if not text.endswith((".", "!", "?")):
        text += "."
    return text[:1].upper() + text[1:]
