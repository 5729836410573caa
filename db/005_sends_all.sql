-- 005_sends_all.sql — every send is in the ledger, whatever its class: a channel's
-- monthly limit per user (WeCom customer broadcasts) counts transactional sends too,
-- while the tiers' caps count only the capped classes (uncapped = 0).
ALTER TABLE sends ADD COLUMN uncapped INTEGER NOT NULL DEFAULT 0;
