"""Named schema migrations, applied in order on start and by ``copbot db migrate``.

Append new migrations at the end; never edit one that has shipped.
"""

from __future__ import annotations

import re

import sqlite_utils
from sqlite_utils.migrations import Migrations

from bot.markup import kept_name, kept_text
from storage.archive_sql import (
    archive_tags,
    id_in,
    id_out,
    label_id,
    micros_in,
    micros_out,
    workspace_of,
)

MIGRATIONS = Migrations("copbot")
FTS_HASH_BYTES = 32 << 20  # see 0021

# The local playground is a small chat platform of its own. It keeps its messages in a
# file of its own, beside copbot's: what copbot erases from its archive is copbot's copy,
# and the platform's copy lives elsewhere, as it does in Slack and Teams.
PLAYGROUND_MIGRATIONS = Migrations("copbot-playground")

# Names an older file may record that no migration here has any more, so that such a file
# isn't taken for one a newer copbot updated (storage.database.refuse_newer): 0002_playground
# moved to the playground's own file.
RETIRED_MIGRATIONS = frozenset({"0002_playground"})


def _run(db: sqlite_utils.Database, *statements: str) -> None:
    # Statement by statement: executescript() would commit the migration's transaction.
    for sql in statements:
        db.execute(sql)


@MIGRATIONS(name="0001_core")
def core(db: sqlite_utils.Database) -> None:
    _run(
        db,
        """
        create table roles (
            identity text not null,
            role text not null check (role in ('facilitator', 'admin')),
            granted_by text not null,
            granted_at text not null,
            primary key (identity, role)
        )
        """,
        """
        create table channels (
            platform text not null,
            workspace text not null default '',
            id text not null,
            name text not null default '',
            kind text not null default 'channel',
            region text not null default '',
            bot_member integer not null default 1,
            updated_at text not null,
            primary key (platform, workspace, id)
        )
        """,
        "create index channels_by_name on channels (platform, name)",
        # The durable inbox: an event is here before the platform hears "200 OK".
        """
        create table inbox (
            id integer primary key,
            dedup_key text not null unique,
            kind text not null,
            payload text,
            received_at text not null,
            state text not null default 'pending'
                check (state in ('pending', 'done', 'failed')),
            attempts integer not null default 0,
            error text not null default '',
            -- a failed attempt waits until then before the next
            retry_at text,
            -- whose event it is (never set for anonymous ones), so erasure reaches here too
            identity text
        )
        """,
        "create index inbox_pending on inbox (id) where state = 'pending'",
        "create index inbox_by_identity on inbox (identity) where identity is not null",
        """
        create table recurrences (
            id integer primary key,
            kind text not null,
            payload text not null,
            rule text not null,
            timezone text not null,
            starts text not null,
            owner text not null default '',
            description text not null default '',
            active integer not null default 1,
            next_at text,
            created_at text not null
        )
        """,
        """
        create table jobs (
            id integer primary key,
            kind text not null,
            payload text not null,
            due_at text not null,
            key text not null unique,
            state text not null default 'pending',
            attempts integer not null default 0,
            owner text not null default '',
            schedule_id integer references recurrences(id) on delete set null,
            last_error text not null default '',
            lease_until text,
            created_at text not null,
            finished_at text
        )
        """,
        "create index jobs_due on jobs (due_at) where state = 'pending'",
        "create index jobs_running on jobs (lease_until) where state = 'running'",
    )


@MIGRATIONS(name="0003_prompts")
def prompts(db: sqlite_utils.Database) -> None:
    _run(
        db,
        # Prompts facilitators add beside the shipped library.
        """
        create table custom_prompts (
            id text primary key,
            topic text not null,
            title text not null,
            text text not null,
            follow_ups text not null,
            facilitator_note text not null,
            content_note text not null default '',
            resources text not null default '[]',
            added_by text not null,
            added_at text not null
        )
        """,
        # Every prompt posted: the root of a discussion thread.
        """
        create table prompt_posts (
            id integer primary key,
            prompt_id text not null,
            topic text not null,
            platform text not null,
            workspace text not null default '',
            channel_id text not null,
            channel_name text not null default '',
            message_id text not null,
            posted_at text not null,
            posted_by text not null default '',
            schedule_id integer,
            job_key text unique
        )
        """,
        "create unique index prompt_posts_by_message"
        " on prompt_posts (platform, workspace, channel_id, message_id)",
        "create index prompt_posts_by_channel"
        " on prompt_posts (platform, workspace, channel_id, posted_at)",
        """
        create table prompt_suggestions (
            id integer primary key,
            topic text not null default '',
            text text not null,
            suggested_by text not null,
            suggested_at text not null
        )
        """,
    )


@PLAYGROUND_MIGRATIONS(name="0001_playground")
def playground(db: sqlite_utils.Database) -> None:
    _run(
        db,
        """
        create table playground_messages (
            seq integer primary key,
            id text not null unique,
            channel text not null,
            thread_root text,
            author text not null,
            author_name text not null,
            body text not null,
            visible_to text,
            created_at text not null,
            edited_at text,
            deleted integer not null default 0
        )
        """,
        "create index playground_by_channel on playground_messages (channel, seq)",
    )


@MIGRATIONS(name="0004_archive")
def archive(db: sqlite_utils.Database) -> None:
    _run(
        db,
        """
        create table archive_messages (
            id integer primary key,
            platform text not null,
            workspace text not null default '',
            channel_id text not null,
            channel_name text not null default '',
            thread_id text not null,
            message_id text not null,
            author_id text,
            author_name text not null default '',
            anonymous integer not null default 0,
            text text not null,
            created_at text not null,
            edited_at text,
            edit_count integer not null default 0,
            prompt_id text not null default '',
            topic text not null default '',
            region text not null default '',
            -- filter words the search index keeps beside the text (see storage/archive.py)
            tags text not null default '',
            unique (platform, workspace, channel_id, message_id)
        )
        """,
        # Exports read threads in order. Erasure by author and the nightly retention purge
        # scan instead: rare work, not worth slowing every insert with another index.
        "create index archive_by_thread on archive_messages (channel_id, thread_id, created_at)",
        # The index lives in step with the table, in the same transaction: triggers for
        # edits and deletes; inserts index their rows in bulk (storage/archive.py), which
        # is several times faster than a trigger firing per row.
        """
        create virtual table archive_fts using fts5(
            text, tags,
            content = 'archive_messages', content_rowid = 'id',
            tokenize = 'unicode61 remove_diacritics 2',
            prefix = '3'
        )
        """,
        # Deleting from the index removes the words at once, not at the next merge.
        "insert into archive_fts (archive_fts, rank) values ('secure-delete', 1)",
        # Relevance comes from the text alone, never from the filter words.
        "insert into archive_fts (archive_fts, rank) values ('rank', 'bm25(1.0, 0.0)')",
        """
        create trigger archive_fts_delete after delete on archive_messages begin
            insert into archive_fts (archive_fts, rowid, text, tags)
            values ('delete', old.id, old.text, old.tags);
        end
        """,
        """
        create trigger archive_fts_update after update of text, tags on archive_messages begin
            insert into archive_fts (archive_fts, rowid, text, tags)
            values ('delete', old.id, old.text, old.tags);
            insert into archive_fts (rowid, text, tags) values (new.id, new.text, new.tags);
        end
        """,
        "create table archive_optouts (identity text primary key, since text not null)",
        # Messages deleted on their platform: a late delivery of one is never kept again.
        """
        create table archive_deleted (
            platform text not null,
            workspace text not null,
            channel_id text not null,
            message_id text not null,
            primary key (platform, workspace, channel_id, message_id)
        ) without rowid
        """,
        "alter table channels add column archive integer not null default 0",
        """
        create table export_links (
            id text primary key,
            format text not null,
            filters text not null,
            created_by text not null,
            created_at text not null,
            expires_at text not null,
            used_at text
        )
        """,
        "create table secrets (name text primary key, value text not null)",
    )


@MIGRATIONS(name="0005_private_channels")
def private_channels(db: sqlite_utils.Database) -> None:
    _run(
        db,
        # NULL until the platform has said whether the channel is private.
        "alter table channels add column private integer",
        # Messages kept before copbot knew count as private (only members find them) until
        # the platform says otherwise: failing closed, not open.
        "alter table archive_messages add column private integer not null default 1",
    )


@MIGRATIONS(name="0006_people")
def people(db: sqlite_utils.Database) -> None:
    _run(
        db,
        # The names people go by, as their platform last gave them, so that copbot can
        # show names rather than ids; a row also means copbot has met them.
        """
        create table people (
            identity text primary key,
            name text not null default '',
            seen_at text not null
        )
        """,
    )


@MIGRATIONS(name="0007_teams_conversations")
def teams_conversations(db: sqlite_utils.Database) -> None:
    _run(
        db,
        # Where copbot can post in Teams: a conversation reference (service URL, ids) per
        # channel, and per person for their 1:1 chat. A person's row is personal data.
        """
        create table teams_conversations (
            kind text not null check (kind in ('channel', 'person')),
            key text not null,
            person text not null default '',
            team text not null default '',
            name text not null default '',
            reference text not null,
            updated_at text not null,
            primary key (kind, key)
        )
        """,
    )


@MIGRATIONS(name="0008_feedback")
def feedback(db: sqlite_utils.Database) -> None:
    _run(
        db,
        """
        create table feedback_rounds (
            id integer primary key,
            title text not null,
            questions text not null,
            -- results show only once this many have answered; fixed at the first answer
            threshold integer not null check (threshold >= 3),
            state text not null default 'open' check (state in ('open', 'closed')),
            closes_on text,
            platform text not null default '',
            workspace text not null default '',
            channel_id text not null default '',
            opened_by text not null default '',
            opened_at text not null,
            closed_at text
        )
        """,
        # Answers: a random key, the date only, and the answers. WITHOUT ROWID, so rows sit
        # in key order (random), not in the order people answered.
        """
        create table feedback_answers (
            id text primary key,
            round_id integer not null references feedback_rounds(id) on delete cascade,
            answered_on text not null,
            answers text not null
        ) without rowid
        """,
        # Kept apart from the answers: the round's random key, and who has answered as a
        # keyed hash with no reference to any answer. Both go when the round closes.
        """
        create table feedback_keys (
            round_id integer primary key references feedback_rounds(id) on delete cascade,
            key blob not null
        )
        """,
        """
        create table feedback_answered (
            round_id integer not null references feedback_rounds(id) on delete cascade,
            hash blob not null,
            primary key (round_id, hash)
        ) without rowid
        """,
    )


@MIGRATIONS(name="0009_anonymous_replies_off")
def anonymous_replies_off(db: sqlite_utils.Database) -> None:
    # Channels where an admin switched anonymous replies off: channel ids only, no people.
    db.execute(
        """
        create table anonymous_replies_off (
            platform text not null,
            workspace text not null,
            channel_id text not null,
            primary key (platform, workspace, channel_id)
        ) without rowid
        """
    )


@MIGRATIONS(name="0010_secret_key")
def secret_key(db: sqlite_utils.Database) -> None:
    # The key copbot signs links and form contexts with, unless COPBOT_SECRET_KEY is set.
    # Made here, once, so every process that opens the file agrees on it.
    _run(
        db,
        "create table secret_key (id integer primary key check (id = 1), key blob not null)",
        "insert into secret_key (id, key) values (1, randomblob(32))",
    )


@MIGRATIONS(name="0012_region_links")
def region_links(db: sqlite_utils.Database) -> None:
    # Which regions a channel serves, as a facilitator linked them; a channel may serve several.
    db.execute(
        """
        create table region_links (
            platform text not null,
            workspace text not null,
            channel_id text not null,
            channel_name text not null default '',
            region text not null,  -- lower case
            linked_by text not null default '',
            linked_at text not null,
            primary key (platform, workspace, channel_id, region)
        ) without rowid
        """
    )


@MIGRATIONS(name="0013_events")
def events(db: sqlite_utils.Database) -> None:
    _run(
        db,
        """
        create table events (
            id integer primary key,
            title text not null,
            region text not null,
            starts_at text not null,
            duration_minutes integer not null check (duration_minutes between 1 and 1440),
            timezone text not null,
            location text not null default '',
            description text not null default '',
            capacity integer check (capacity is null or capacity >= 1),
            topic text not null default '',
            organiser text not null default '',
            status text not null default 'scheduled' check (status in ('scheduled', 'cancelled')),
            sequence integer not null default 0,
            feedback_round integer,
            -- set in the transaction that closes the announcing job: after a restart, an
            -- event without it has its announcements reconciled
            announced_at text,
            created_at text not null,
            updated_at text not null
        )
        """,
        # One answer per person; "seq" orders Going answers, so a waiting list is first come.
        """
        create table event_rsvps (
            event_id integer not null references events(id) on delete cascade,
            person text not null,
            answer text not null check (answer in ('going', 'maybe', 'not_going')),
            seq integer not null,
            answered_at text not null,
            primary key (event_id, person)
        ) without rowid
        """,
        # The ledger of announcements: a row is written before the post ('posting') and
        # completed after it ('posted', with the message id), so a restart never posts twice.
        """
        create table event_announcements (
            event_id integer not null references events(id) on delete cascade,
            platform text not null,
            workspace text not null,
            channel_id text not null,
            channel_name text not null default '',
            state text not null check (state in ('posting', 'posted', 'unknown', 'failed')),
            message_id text not null default '',
            updated_at text not null,
            primary key (event_id, platform, workspace, channel_id)
        ) without rowid
        """,
    )


@MIGRATIONS(name="0015_console_sign_in")
def console_sign_in(db: sqlite_utils.Database) -> None:
    _run(
        db,
        # A sign-in link is signed, not stored; its id is kept once used, so it works once.
        """
        create table console_links_used (
            id text primary key,
            identity text not null,
            used_at text not null
        ) without rowid
        """,
        # Sessions by the SHA-256 of their id: a copy of the database signs nobody in.
        """
        create table console_sessions (
            id_hash text primary key,
            identity text not null,
            created_at text not null,
            expires_at text not null,
            ended_at text
        ) without rowid
        """,
    )


@MIGRATIONS(name="0016_audit")
def audit(db: sqlite_utils.Database) -> None:
    _run(
        db,
        """
        create table audit (
            id integer primary key,
            at text not null,
            done_by text not null,  -- identity, or 'cli'
            action text not null,
            detail text not null default ''
        )
        """,
        "create index audit_newest on audit (id desc)",
    )


@MIGRATIONS(name="0017_schedule_pause")
def schedule_pause(db: sqlite_utils.Database) -> None:
    # Set while a schedule is paused: its occurrences are skipped until it is resumed.
    _run(db, "alter table recurrences add column paused_at text")


@MIGRATIONS(name="0018_inbox_priority")
def inbox_priority(db: sqlite_utils.Database) -> None:
    # A person's command, click, form or home tab is taken ahead of captured messages:
    # this index finds the few of them among thousands of captures waiting (a burst, or
    # the replay after downtime). Its condition is repeated word for word by the query
    # that uses it (storage/inbox.py), as SQLite requires of a partial index.
    _run(
        db,
        "create index inbox_pending_interactive on inbox (id) where state = 'pending'"
        " and kind in ('ButtonPressed', 'CommandReceived', 'FormSubmitted', 'HomeOpened')",
    )


@MIGRATIONS(name="0019_archive_compact")
def archive_compact(db: sqlite_utils.Database) -> None:
    """The archive in about half the bytes: names, channels and people once each in small
    tables, times as integers, filter words computed rather than stored, and a search
    index without its prefix index. ``archive_messages`` becomes a view with the columns
    it had, so every reader (and Datasette) sees the same rows as before."""
    _run(
        db,
        "drop trigger archive_fts_delete",
        "drop trigger archive_fts_update",
        "drop table archive_fts",
        "alter table archive_messages rename to archive_messages_0018",
        # Channel names, topics, regions, prompt ids and workspaces ("platform:workspace"):
        # a handful of values, each kept once.
        "create table archive_labels (id integer primary key, value text not null unique)",
        """
        create table archive_channels (
            id integer primary key,
            platform text not null,
            workspace_id text not null,
            channel_id text not null,
            workspace integer not null,  -- archive_labels: "platform:workspace"
            unique (platform, workspace_id, channel_id)
        )
        """,
        # Threads are read channel by channel, in the order of the channels' ids.
        "create index archive_channels_by_id on archive_channels (channel_id)",
        # A person as each message named them; erasure removes their rows here too.
        """
        create table archive_authors (
            id integer primary key,
            author_id text not null,
            author_name text not null,
            unique (author_id, author_name)
        )
        """,
        """
        create table archive_entries (
            id integer primary key,
            channel integer not null,  -- archive_channels
            message_id not null,  -- no type: an integer for a Slack ts, else text
            thread_id not null,
            channel_name integer,  -- archive_labels; the name when the message came
            author integer,  -- archive_authors; null when anonymous
            anonymous integer not null default 0,
            text text not null,
            created_at integer not null,  -- microseconds since 1970 (UTC)
            edited_at integer,
            edit_count integer not null default 0,
            prompt integer,  -- archive_labels, as are topic and region
            topic integer,
            region integer,
            private integer not null default 1,
            unique (channel, message_id)
        )
        """,
        "insert into archive_labels (value) select distinct platform || ':' || workspace"
        " from archive_messages_0018",
        "insert or ignore into archive_labels (value) select value from ("
        " select distinct channel_name as value from archive_messages_0018"
        " union select distinct topic from archive_messages_0018"
        " union select distinct region from archive_messages_0018"
        " union select distinct prompt_id from archive_messages_0018) where value != ''",
        "insert into archive_channels (platform, workspace_id, channel_id, workspace)"
        " select distinct m.platform, m.workspace, m.channel_id, w.id"
        " from archive_messages_0018 m"
        " join archive_labels w on w.value = m.platform || ':' || m.workspace",
        "insert into archive_authors (author_id, author_name)"
        " select distinct coalesce(author_id, ''), author_name from archive_messages_0018"
        " where author_id is not null or author_name != ''",
        f"""
        insert into archive_entries (id, channel, message_id, thread_id, channel_name, author,
            anonymous, text, created_at, edited_at, edit_count, prompt, topic, region, private)
        select m.id, c.id, {id_in("m.message_id")}, {id_in("m.thread_id")},
            {label_id("m.channel_name")},
            (select a.id from archive_authors a
             where a.author_id = coalesce(m.author_id, '') and a.author_name = m.author_name),
            m.anonymous, m.text, {micros_in("m.created_at")},
            case when m.edited_at is null then null else {micros_in("m.edited_at")} end,
            m.edit_count, {label_id("m.prompt_id")}, {label_id("m.topic")}, {label_id("m.region")},
            m.private
        from archive_messages_0018 m
        join archive_channels c on c.platform = m.platform and c.workspace_id = m.workspace
            and c.channel_id = m.channel_id
        order by m.id
        """,
        "drop table archive_messages_0018",
        # Exports and the console read threads in order.
        "create index archive_by_thread on archive_entries (channel, thread_id, created_at)",
        # The columns archive_messages always had, for every reader; LEFT JOINs on primary
        # keys, so that a query that doesn't use a name never looks it up.
        f"""
        create view archive_messages as select
            e.id as id,
            c.platform as platform,
            c.workspace_id as workspace,
            c.channel_id as channel_id,
            coalesce(n.value, '') as channel_name,
            {id_out("e.thread_id")} as thread_id,
            {id_out("e.message_id")} as message_id,
            nullif(a.author_id, '') as author_id,
            coalesce(a.author_name, '') as author_name,
            e.anonymous as anonymous,
            e.text as text,
            {micros_out("e.created_at")} as created_at,
            case when e.edited_at is null then null else {micros_out("e.edited_at")} end
                as edited_at,
            e.edit_count as edit_count,
            coalesce(p.value, '') as prompt_id,
            coalesce(t.value, '') as topic,
            coalesce(r.value, '') as region,
            e.private as private,
            e.channel as channel_key,
            e.channel_name as name_key,
            e.author as author_key,
            e.topic as topic_key,
            e.region as region_key,
            e.created_at as created_us,
            e.edited_at as edited_us,
            e.message_id as message_key,
            e.thread_id as thread_key
        from archive_entries e
        join archive_channels c on c.id = e.channel
        left join archive_labels n on n.id = e.channel_name
        left join archive_authors a on a.id = e.author
        left join archive_labels p on p.id = e.prompt
        left join archive_labels t on t.id = e.topic
        left join archive_labels r on r.id = e.region
        """,
        # Deleting through the view deletes the row (and its words, by the trigger below).
        """
        create trigger archive_messages_delete instead of delete on archive_messages begin
            delete from archive_entries where id = old.id;
        end
        """,
        # What the search index reads: the text, and the filter words computed from the row.
        f"""
        create view archive_fts_content as select
            e.id as id, e.text as text, {archive_tags("e", "c.workspace")} as tags
        from archive_entries e join archive_channels c on c.id = e.channel
        """,
        # No prefix index: it doubled the index, and a prefix of four letters or more
        # finds its few words in the main index as fast.
        """
        create virtual table archive_fts using fts5(
            text, tags,
            content = 'archive_fts_content', content_rowid = 'id',
            tokenize = 'unicode61 remove_diacritics 2'
        )
        """,
        "insert into archive_fts (archive_fts, rank) values ('secure-delete', 1)",
        "insert into archive_fts (archive_fts, rank) values ('rank', 'bm25(1.0, 0.0)')",
        f"""
        create trigger archive_fts_delete after delete on archive_entries begin
            insert into archive_fts (archive_fts, rowid, text, tags) values
            ('delete', old.id, old.text, {archive_tags("old", workspace_of("old"))});
        end
        """,
        f"""
        create trigger archive_fts_update after update of
            text, channel, channel_name, created_at, topic, region, author on archive_entries
        begin
            insert into archive_fts (archive_fts, rowid, text, tags) values
            ('delete', old.id, old.text, {archive_tags("old", workspace_of("old"))});
            insert into archive_fts (rowid, text, tags) values
            (new.id, new.text, {archive_tags("new", workspace_of("new"))});
        end
        """,
        "insert into archive_fts (archive_fts) values ('rebuild')",
    )


@MIGRATIONS(name="0020_archive_vacuum", transactional=False)
def archive_vacuum(db: sqlite_utils.Database) -> None:
    # 0019 leaves the old layout's pages free inside the file, which keeps its size; VACUUM
    # (outside a transaction, hence a migration of its own) writes the file anew without
    # them. Once, on upgrade: about 8 s a million messages. A file mostly in use is left.
    free, total = (
        db.execute("pragma freelist_count").fetchone()[0],
        db.execute("pragma page_count").fetchone()[0],
    )
    if free * 4 > total:
        db.execute("vacuum")


@MIGRATIONS(name="0021_archive_fts_hashsize")
def archive_fts_hashsize(db: sqlite_utils.Database) -> None:
    # FTS5 writes a new index segment whenever its pending terms pass 1 MB (the default),
    # and merges segments as they pile up. An import's transaction of thousands of
    # messages would otherwise write and merge several; with room for them, one. A live
    # message's transaction stays far under either size, so nothing else changes.
    db.execute(
        "insert into archive_fts (archive_fts, rank) values ('hashsize', ?)", [FTS_HASH_BYTES]
    )


@MIGRATIONS(name="0022_teams_channels_members_only")
def teams_channels_members_only(db: sqlite_utils.Database) -> None:
    # Every Teams channel is open to its team at most, never to everyone copbot serves
    # (adapters/teams/membership.py). Standard channels were kept as public before, and so
    # were their messages: from now on they show only to those Teams shows them to.
    _run(
        db,
        "update channels set private = 1 where platform = 'teams' and kind != 'direct'",
        """
        update archive_entries set private = 1
        where private = 0
          and channel in (select id from archive_channels where platform = 'teams')
        """,
    )


@MIGRATIONS(name="0023_feedback_answers_dated_by_round")
def feedback_answers_dated_by_round(db: sqlite_utils.Database) -> None:
    # An answer's day picked it out when only one person answered that day: every answer
    # now carries its round's opening day (UTC, as copbot writes it) instead.
    _run(
        db,
        """
        update feedback_answers set answered_on = (
            select substr(r.opened_at, 1, 10) from feedback_rounds r where r.id = round_id
        )
        """,
    )


@MIGRATIONS(name="0024_archive_optins_dated")
def archive_optins_dated(db: sqlite_utils.Database) -> None:
    # Opting back in no longer forgets the opt-out: it dates the return (microseconds, as
    # messages' times are), so that nothing written before it is kept, not even through a
    # later edit of it or a late delivery. Null while opted out.
    _run(db, "alter table archive_optouts add column resumed_us integer")


@MIGRATIONS(name="0025_archive_without_controls")
def archive_without_controls(db: sqlite_utils.Database) -> None:
    # Names and words kept before copbot took control characters out of every name, and C1
    # ones (such as NEL) out of words, lose them too, so that no search, console page or
    # export shows them. A name that becomes one already kept is merged into it.
    for key, author_id, name in db.execute(
        "select id, author_id, author_name from archive_authors"
    ).fetchall():
        if (clean := kept_name(name)) == name:
            continue
        same = db.execute(
            "select id from archive_authors where author_id = ? and author_name = ?",
            [author_id, clean],
        ).fetchone()
        if same is None:
            db.execute("update archive_authors set author_name = ? where id = ?", [clean, key])
        else:
            db.execute("update archive_entries set author = ? where author = ?", [same[0], key])
            db.execute("delete from archive_authors where id = ?", [key])
    for key, value in db.execute("select id, value from archive_labels").fetchall():
        if (clean := kept_name(value)) == value:
            continue
        same = db.execute("select id from archive_labels where value = ?", [clean]).fetchone()
        if same is None:
            db.execute("update archive_labels set value = ? where id = ?", [clean, key])
            continue
        for column in ("channel_name", "prompt", "topic", "region"):
            db.execute(
                f"update archive_entries set {column} = ? where {column} = ?", [same[0], key]
            )
        db.execute("update archive_channels set workspace = ? where workspace = ?", [same[0], key])
        db.execute("delete from archive_labels where id = ?", [key])
    # Words: found in their UTF-8 bytes, a NUL included (text, as GLOB and Python's SQLite
    # functions read it, ends at one). A GLOB character class tried at every position took
    # 7 s a million messages; this, about 3.
    db.conn.create_function("copbot_has_control", 1, _has_control, deterministic=True)
    for key, text in db.execute(
        "select id, text from archive_entries where copbot_has_control(cast(text as blob))"
    ).fetchall():
        db.execute("update archive_entries set text = ? where id = ?", [kept_text(text), key])


# kept_text's CONTROL, in UTF-8: C0 bytes but tab and newline, DEL, and C1 (U+0080 to U+009F).
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]")


def _has_control(text: object) -> bool:
    return isinstance(text, bytes) and _CONTROL_BYTES.search(text) is not None


@MIGRATIONS(name="0026_console_sessions_workspace")
def console_sessions_workspace(db: sqlite_utils.Database) -> None:
    # The workspace (or tenant) a session's link was asked for in: its archive is the one
    # the console reads. Sessions opened before read the busiest, as they did.
    _run(db, "alter table console_sessions add column workspace text not null default ''")
