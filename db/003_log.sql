-- 003_log.sql — what auditors and operators query: log indexes, pre-aggregated counts
-- (stats answer from these, not from millions of log rows), campaigns, and the anchor
-- that keeps the hash chain verifiable after old rows are archived.

CREATE INDEX log_campaign ON log(campaign_id, seq) WHERE campaign_id != 0;
CREATE INDEX log_at ON log(at);

-- One row per (campaign, hour, channel, tier, event, code): how many log rows.
CREATE TABLE log_counts (
    campaign_id INTEGER NOT NULL,
    hour        INTEGER NOT NULL,      -- UTC ms, truncated to the hour
    channel     TEXT NOT NULL,         -- '' when none
    tier        TEXT NOT NULL,
    event       TEXT NOT NULL,
    code        TEXT NOT NULL,         -- reason code / provider code, '' when none
    n           INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, hour, channel, tier, event, code)
) WITHOUT ROWID;

-- The last archived row: verify starts the chain from here.
CREATE TABLE log_anchor (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    seq         INTEGER NOT NULL,
    hash        BLOB NOT NULL,
    archived_at INTEGER NOT NULL,
    file        TEXT NOT NULL
);

-- Archiving is the one way rows leave the log: the delete trigger lets them go only
-- while this flag is set, inside the archiving transaction.
CREATE TABLE log_meta (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    archiving INTEGER NOT NULL DEFAULT 0
);
INSERT INTO log_meta(id, archiving) VALUES (1, 0);
DROP TRIGGER log_no_delete;
CREATE TRIGGER log_no_delete BEFORE DELETE ON log
    WHEN (SELECT archiving FROM log_meta WHERE id = 1) = 0
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

CREATE TABLE campaigns (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    template   TEXT NOT NULL,
    source     TEXT NOT NULL,          -- recipients file or segment expression
    state      TEXT NOT NULL,          -- active | paused | cancelled
    at         INTEGER NOT NULL,
    spread     INTEGER NOT NULL,
    total      INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX msg_campaign ON msg(campaign_id) WHERE campaign_id != 0;
