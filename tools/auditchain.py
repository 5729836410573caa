"""auditchain.py — the audit log's row hash (src/audit.h), for scripts.

A second, independent implementation of the canonical encoding: tests forge rows with
it (a row appended behind chuda's back, with a correct hash), bench/gen-log.sh builds
large verifiable logs with it, and `chuda log verify` accepting what it wrote checks
that the two implementations agree.

    row_hash(prev, seq, at, message_id, campaign_id, user_id, event, channel, reason,
             code, detail, target) -> 32 bytes
"""
import hashlib
import struct

FIELDS = ("seq", "at", "message_id", "campaign_id", "user_id", "event", "channel",
          "reason", "code", "detail", "target")


def _int(v):
    return b"\x01" + struct.pack(">q", v)


def _text(v):
    if v is None:
        return b"\x00"
    b = v.encode("utf-8") if isinstance(v, str) else bytes(v)
    return b"\x02" + struct.pack(">Q", len(b)) + b


def row_hash(prev, seq, at, message_id, campaign_id, user_id, event, channel, reason,
             code, detail, target):
    h = hashlib.sha256(prev)
    for v in (seq, at, message_id or 0, campaign_id or 0):
        h.update(_int(v))
    for v in (user_id, event, channel, reason, code, detail, target):
        h.update(_text(v))
    return h.digest()


def append(db, **row):
    """Append one row after the last one of an open sqlite3 connection, with a correct
    hash (and nothing else: log_counts, the head and messages are left alone)."""
    last = db.execute("SELECT seq, hash FROM log ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (last[0] + 1, last[1]) if last else (1, b"\x00" * 32)
    vals = {f: row.get(f) for f in FIELDS}
    vals["seq"] = seq
    vals["campaign_id"] = vals["campaign_id"] or 0
    h = row_hash(prev, *(vals[f] for f in FIELDS))
    db.execute("INSERT INTO log(seq, at, message_id, campaign_id, user_id, event, channel,"
               " reason, code, detail, target, hash) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
               tuple(vals[f] for f in FIELDS) + (h,))
    return seq, h


def rechain(db, start):
    """Recompute every hash from row `start` on, as someone rewriting the log after
    altering a row would (the log's update trigger must have been dropped). Returns the
    last row's new hash."""
    got = db.execute("SELECT hash FROM log WHERE seq=?", (start - 1,)).fetchone()
    prev = got[0] if got else b"\x00" * 32
    rows = db.execute("SELECT seq, at, message_id, campaign_id, user_id, event, channel,"
                      " reason, code, detail, target FROM log WHERE seq>=? ORDER BY seq",
                      (start,)).fetchall()
    for r in rows:
        prev = row_hash(prev, *r)
        db.execute("UPDATE log SET hash=? WHERE seq=?", (prev, r[0]))
    return prev
