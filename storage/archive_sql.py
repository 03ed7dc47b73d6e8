"""SQL expressions for the compact archive's columns (migration 0019): ids and times as
integers going in and as text coming out, and the filter words of a row, computed rather
than stored."""

from __future__ import annotations


# How 0019 computes the filter words of an archive row (see storage/archive_search.py)
# from its integer columns, in the index's content view and in the triggers that take a
# row out of the index: the words are never stored, and the same expression always gives
# the same words for a row, so a delete finds exactly what was indexed.
def archive_tags(row: str, workspace: str) -> str:
    return (
        f"'zw' || {workspace} || ' zc' || {row}.channel"
        f" || coalesce(' zn' || {row}.channel_name, '')"
        f" || ' zm' || strftime('%Y%m', {row}.created_at / 1000000, 'unixepoch')"
        f" || coalesce(' zt' || {row}.topic, '') || coalesce(' zr' || {row}.region, '')"
        f" || coalesce(' za' || {row}.author, '')"
    )


def workspace_of(row: str) -> str:
    return f"(select c.workspace from archive_channels c where c.id = {row}.channel)"


# A Slack message id ("1700000000.123456") as one integer, 8 bytes instead of 17; any other
# id stays text (the column has no type, so SQLite keeps each value as given).
SLACK_TS = "'[1-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]'"


def id_in(value: str) -> str:
    return (
        f"case when {value} glob {SLACK_TS}"
        f" then cast(substr({value}, 1, 10) || substr({value}, 12, 6) as integer)"
        f" else {value} end"
    )


def id_out(column: str) -> str:
    return (
        f"case when typeof({column}) = 'integer'"
        f" then printf('%d.%06d', {column} / 1000000, {column} % 1000000) else {column} end"
    )


def micros_in(value: str) -> str:
    return (
        f"cast(strftime('%s', substr({value}, 1, 19)) as integer) * 1000000"
        f" + cast(substr({value}, 21, 6) as integer)"
    )


def micros_out(column: str) -> str:
    return (
        f"strftime('%Y-%m-%dT%H:%M:%S', {column} / 1000000, 'unixepoch')"
        f" || printf('.%06dZ', {column} % 1000000)"
    )


def label_id(value: str) -> str:
    return f"(select id from archive_labels where value = {value})"
