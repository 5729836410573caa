-- 001_init.sql — chuda's first schema. Times are UTC milliseconds.

-- Users, upserted by `chuda users import`. attrs holds the CSV's extra columns (JSON object).
CREATE TABLE users (
    user_id               TEXT PRIMARY KEY,
    tier                  TEXT NOT NULL,
    segment               TEXT NOT NULL DEFAULT '',
    tz                    TEXT NOT NULL DEFAULT '',
    mp_openid             TEXT,
    oa_openid             TEXT,
    phone                 TEXT,
    wecom_userid          TEXT,
    wecom_external_userid TEXT,
    attrs                 TEXT NOT NULL DEFAULT '{}'
) WITHOUT ROWID;

-- Every message ever enqueued. Written once, never updated: appends in id order.
CREATE TABLE msg (
    id          INTEGER PRIMARY KEY,
    idem_key    TEXT UNIQUE,
    user_id     TEXT NOT NULL,
    template    TEXT NOT NULL,
    class       TEXT NOT NULL,
    tag         TEXT,
    channel     TEXT,
    vars        TEXT NOT NULL DEFAULT '{}',
    campaign_id INTEGER NOT NULL DEFAULT 0,
    win         TEXT,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX msg_user_tag ON msg(user_id, tag) WHERE tag IS NOT NULL;

-- The ready queue: one row per pending message, clustered by due time, so a claim reads
-- contiguous pages. Rows leave when the message finishes; deferral re-inserts.
CREATE TABLE queue (
    due_at      INTEGER NOT NULL,
    id          INTEGER NOT NULL,
    lease_until INTEGER NOT NULL DEFAULT 0,
    attempts    INTEGER NOT NULL DEFAULT 0,
    inflight    TEXT,
    skip        TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (due_at, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX queue_id ON queue(id);

-- Finished messages: their final state.
CREATE TABLE done (
    id          INTEGER PRIMARY KEY,
    state       TEXT NOT NULL,
    channel     TEXT,
    code        TEXT,
    finished_at INTEGER NOT NULL
);

-- The audit log: append-only, each row's hash = SHA-256(previous hash || row).
CREATE TABLE log (
    seq         INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    message_id  INTEGER,
    user_id     TEXT,
    campaign_id INTEGER NOT NULL DEFAULT 0,
    event       TEXT NOT NULL,
    channel     TEXT,
    reason      TEXT,
    code        TEXT,
    detail      TEXT,
    target      TEXT,                  -- the address used (phone, openid): masked on output
    hash        BLOB NOT NULL
);
CREATE INDEX log_message ON log(message_id) WHERE message_id IS NOT NULL;
CREATE INDEX log_user ON log(user_id, seq) WHERE user_id IS NOT NULL;
CREATE TRIGGER log_no_update BEFORE UPDATE ON log
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER log_no_delete BEFORE DELETE ON log
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
