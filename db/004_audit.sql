-- 004_audit.sql — the send log at scale and under tampering.
--
-- Indexes: every `chuda log` filter and every stats query answers from an index, in the
-- listing's order (at, then seq). The archive anchor records what cross-checks need; the
-- head (the last row chuda committed) is kept in log_meta; triggers guard the anchor and
-- the head as the log's own triggers guard the log. None of this stops someone who can
-- write the file and drops the triggers: it makes tampering deliberate, and `chuda log
-- verify` (README, "For auditors") says what it can still prove.

DROP INDEX log_user;
CREATE INDEX log_user ON log(user_id, at) WHERE user_id IS NOT NULL;
DROP INDEX log_campaign;
CREATE INDEX log_campaign ON log(campaign_id, at) WHERE campaign_id != 0;
CREATE INDEX log_event ON log(event, at);
CREATE INDEX log_channel ON log(channel, at) WHERE channel IS NOT NULL;
CREATE INDEX log_counts_hour ON log_counts(hour);

-- The head: seq and hash of the last row, moved forward by each commit that logged. It
-- only moves forward, to a row of the log; log_meta keeps its one row.
ALTER TABLE log_meta ADD COLUMN head_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE log_meta ADD COLUMN head_hash BLOB;
UPDATE log_meta SET
    head_seq = coalesce((SELECT max(seq) FROM log), (SELECT seq FROM log_anchor), 0),
    head_hash = coalesce((SELECT hash FROM log ORDER BY seq DESC LIMIT 1),
                         (SELECT hash FROM log_anchor));
CREATE TRIGGER log_meta_no_insert BEFORE INSERT ON log_meta
    BEGIN SELECT RAISE(ABORT, 'log_meta has one row'); END;
CREATE TRIGGER log_meta_no_delete BEFORE DELETE ON log_meta
    BEGIN SELECT RAISE(ABORT, 'log_meta has one row'); END;
CREATE TRIGGER log_meta_head BEFORE UPDATE ON log_meta
    WHEN NEW.id != OLD.id OR NEW.head_seq < OLD.head_seq
      OR ((NEW.head_seq != OLD.head_seq OR NEW.head_hash IS NOT OLD.head_hash)
          AND NEW.head_hash IS NOT (SELECT hash FROM log WHERE seq = NEW.head_seq))
    BEGIN SELECT RAISE(ABORT, 'the log head only moves forward, to a row of the log'); END;

-- The anchor, besides the last archived row (seq, hash): how many rows were archived in
-- all, the largest message id whose `enqueued` row went with them, the latest `at` among
-- them.
ALTER TABLE log_anchor ADD COLUMN nrows INTEGER NOT NULL DEFAULT 0;
ALTER TABLE log_anchor ADD COLUMN msg_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE log_anchor ADD COLUMN max_at INTEGER NOT NULL DEFAULT 0;
UPDATE log_anchor SET nrows = seq;

-- Rows leave the log only at or before the anchor: archiving moves the anchor first (the
-- archiving flag, which anyone could set, is gone).
DROP TRIGGER log_no_delete;
ALTER TABLE log_meta DROP COLUMN archiving;
CREATE TRIGGER log_no_delete BEFORE DELETE ON log
    WHEN OLD.seq > coalesce((SELECT seq FROM log_anchor WHERE id = 1), 0)
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

-- The anchor is a row of the log (its stored hash), every row up to it present, and it
-- only moves forward.
CREATE TRIGGER log_anchor_no_delete BEFORE DELETE ON log_anchor
    BEGIN SELECT RAISE(ABORT, 'the archive anchor only moves forward'); END;
CREATE TRIGGER log_anchor_first BEFORE INSERT ON log_anchor
    WHEN EXISTS (SELECT 1 FROM log_anchor) OR NEW.id != 1 OR NEW.nrows != NEW.seq
      OR NEW.hash IS NOT (SELECT hash FROM log WHERE seq = NEW.seq)
      OR (SELECT count(*) FROM log WHERE seq <= NEW.seq) != NEW.seq
    BEGIN SELECT RAISE(ABORT, 'the archive anchor must be the last archived row of the log'); END;
CREATE TRIGGER log_anchor_forward BEFORE UPDATE ON log_anchor
    WHEN NEW.id != OLD.id OR NEW.seq <= OLD.seq OR NEW.nrows != OLD.nrows + NEW.seq - OLD.seq
      OR NEW.hash IS NOT (SELECT hash FROM log WHERE seq = NEW.seq)
      OR (SELECT count(*) FROM log WHERE seq > OLD.seq AND seq <= NEW.seq) != NEW.seq - OLD.seq
      OR NEW.msg_id < OLD.msg_id OR NEW.max_at < OLD.max_at
    BEGIN SELECT RAISE(ABORT, 'the archive anchor only moves forward, to a row of the log'); END;
