-- 002_policy.sql — what the policy needs to remember: sends (for caps), opt-outs,
-- mini-program subscription credits.

-- One row per message that was sent or is being sent: a reservation is written in the
-- same transaction as the decision (so two messages to one user in one batch cannot
-- both slip under a cap), confirmed on success, removed on failure.
CREATE TABLE sends (
    user_id    TEXT NOT NULL,
    at         INTEGER NOT NULL,
    message_id INTEGER NOT NULL,
    channel    TEXT NOT NULL,
    state      TEXT NOT NULL,          -- reserved | sent
    PRIMARY KEY (user_id, at, message_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX sends_message ON sends(message_id);

-- Opt-outs: channel '*' = every channel, category '*' = every category.
CREATE TABLE optouts (
    user_id  TEXT NOT NULL,
    channel  TEXT NOT NULL DEFAULT '*',
    category TEXT NOT NULL DEFAULT '*',
    at       INTEGER NOT NULL,
    source   TEXT NOT NULL,            -- operator | provider | reply | api
    reason   TEXT,
    PRIMARY KEY (user_id, channel, category)
) WITHOUT ROWID;

-- Mini-program one-time subscription credits per (user, WeChat template id).
CREATE TABLE credits (
    user_id     TEXT NOT NULL,
    template_id TEXT NOT NULL,
    n           INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (user_id, template_id)
) WITHOUT ROWID;
