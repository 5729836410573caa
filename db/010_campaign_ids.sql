-- 010_campaign_ids.sql — a campaign's messages found by their id range, not by an index.
-- A campaign is written in one transaction holding the write lock, its messages with
-- consecutive ids (store_sqlite.c sq_enqueue_many), so campaigns.first_id..last_id names
-- them through msg's primary key. The msg_campaign index it replaces cost each of a
-- campaign's inserts a b-tree entry: 2,000 of 26,800 instructions a row
-- (bench/README.md, "Campaign CSV"). The queries still test campaign_id as well.
ALTER TABLE campaigns ADD COLUMN first_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE campaigns ADD COLUMN last_id INTEGER NOT NULL DEFAULT 0;
UPDATE campaigns SET
    first_id = coalesce((SELECT min(id) FROM msg WHERE campaign_id = campaigns.id
                                                   AND campaign_id != 0), 0),
    last_id = coalesce((SELECT max(id) FROM msg WHERE campaign_id = campaigns.id
                                                  AND campaign_id != 0), 0);
DROP INDEX msg_campaign;
