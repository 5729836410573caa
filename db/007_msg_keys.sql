-- 007_msg_keys.sql — the idempotency key's index holds only messages that have a key.
-- A campaign writes a million messages without one in a single transaction; with the
-- UNIQUE column constraint each still cost an index entry (about a fifth of its insert).
-- SQLite cannot drop a column constraint, so the table is rebuilt (same columns, same
-- rows and ids) with a partial unique index instead.
CREATE TABLE msg_new (
    id          INTEGER PRIMARY KEY,
    idem_key    TEXT,
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
INSERT INTO msg_new SELECT id, idem_key, user_id, template, class, tag, channel, vars,
                           campaign_id, win, created_at, expires_at FROM msg;
DROP TABLE msg;
ALTER TABLE msg_new RENAME TO msg;
CREATE UNIQUE INDEX msg_key ON msg(idem_key) WHERE idem_key IS NOT NULL;
CREATE INDEX msg_user_tag ON msg(user_id, tag) WHERE tag IS NOT NULL;
CREATE INDEX msg_campaign ON msg(campaign_id) WHERE campaign_id != 0;
