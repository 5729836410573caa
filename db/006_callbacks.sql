-- 006_callbacks.sql — what provider callbacks need: which message a provider's id names
-- (written when a provider accepts a send), which pushes were already applied (every
-- provider re-pushes), and users found by the address a callback names.

-- One row per send a provider accepted with an id of its own (Tencent SerialNo = sid,
-- Aliyun BizId = biz_id, WeChat msgid = MsgID). `receipt` is set by the first receipt
-- for it (delivered | failed): a repeat finds it set and changes nothing.
CREATE TABLE provider_ids (
    channel     TEXT NOT NULL,
    provider_id TEXT NOT NULL,
    message_id  INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    receipt     TEXT,
    PRIMARY KEY (channel, provider_id)
) WITHOUT ROWID;

-- Callback events that are not receipts (SMS replies, subscription popups and changes),
-- by a key made of what identifies the push: applied once.
CREATE TABLE callback_seen (
    key TEXT PRIMARY KEY,
    at  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX users_phone ON users(phone) WHERE phone IS NOT NULL;
CREATE INDEX users_mp_openid ON users(mp_openid) WHERE mp_openid IS NOT NULL;
CREATE INDEX users_oa_openid ON users(oa_openid) WHERE oa_openid IS NOT NULL;
