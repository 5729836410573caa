-- 008_queue_leased.sql — the leased rows of the queue, indexed on their own.
-- At start `chuda run` gives back the leases a killed run left (sched.c recover): with no
-- index that was three full scans of the queue, 2 s of CPU and the whole queue through the
-- page cache (RSS 81 MiB) with 10,000,000 messages queued (bench/README.md, scale). The
-- index holds only rows in flight (at most max_inflight of a live run), so keeping it costs
-- a claim and a settle one small b-tree entry each.
CREATE INDEX queue_leased ON queue(lease_until) WHERE lease_until > 0;
