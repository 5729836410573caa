-- 004_audit.sql — the send log at scale and under tampering.
--
-- Indexes: every `chuda log` filter and every stats query answers from an index, in the
-- listing's order (at, then seq). The head (the last row chuda committed) is kept in
-- log_meta, guarded by triggers as the log's own triggers guard the log.

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
