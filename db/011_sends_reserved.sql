-- 011_sends_reserved.sql — the send ledger's reservations, indexed on their own.
-- At start `chuda run` drops every reservation a killed run left (sched.c recover): also
-- one of a message another process cancelled meanwhile, which is no longer in the queue
-- and would otherwise count against its user's caps for a send that never happened. The
-- index holds only the reservations of a live run (at most its messages in hand), so the
-- start reads no more than those, and a reservation and its settle cost one small b-tree
-- entry each.
CREATE INDEX sends_reserved ON sends(message_id) WHERE state = 'reserved';
