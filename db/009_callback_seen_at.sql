-- 009_callback_seen_at.sql — callback keys by age, so that the old ones can be let go.
-- A provider re-pushes an event within minutes of the first push, so a key that arrived a
-- week ago cannot come back. Each fresh key deletes the keys that arrived before that
-- (store_sqlite.c sq_callback_once): the table holds a week of pushes, not every push ever.
CREATE INDEX callback_seen_at ON callback_seen(at);
