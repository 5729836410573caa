-- 004_audit.sql — the send log at scale.
--
-- Indexes: every `chuda log` filter and every stats query answers from an index, in the
-- listing's order (at, then seq).

DROP INDEX log_user;
CREATE INDEX log_user ON log(user_id, at) WHERE user_id IS NOT NULL;
DROP INDEX log_campaign;
CREATE INDEX log_campaign ON log(campaign_id, at) WHERE campaign_id != 0;
CREATE INDEX log_event ON log(event, at);
CREATE INDEX log_channel ON log(channel, at) WHERE channel IS NOT NULL;
CREATE INDEX log_counts_hour ON log_counts(hour);
