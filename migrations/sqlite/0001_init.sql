-- Eider SQLite schema, version 1.
--
-- Internal integer keys (uno, mbx, mno) keep indexes small; the opaque
-- 24-hex-character IDs seen through store.Store are UNIQUE text columns.
-- Times are Unix nanoseconds (UTC).

-- Small named counters (e.g. the last UIDVALIDITY handed out).
CREATE TABLE kv (
	k TEXT PRIMARY KEY,
	v INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE users (
	uno           INTEGER PRIMARY KEY,
	id            TEXT NOT NULL UNIQUE,
	username      TEXT NOT NULL,
	username_key  TEXT NOT NULL UNIQUE,  -- address.NormalizeUsername
	password_hash TEXT NOT NULL DEFAULT '',
	quota_limit   INTEGER NOT NULL DEFAULT 0,
	storage_used  INTEGER NOT NULL DEFAULT 0, -- = SUM(messages.size) of the user
	disabled      INTEGER NOT NULL DEFAULT 0,
	created       INTEGER NOT NULL
);

CREATE TABLE addresses (
	id         TEXT PRIMARY KEY,
	uno        INTEGER NOT NULL REFERENCES users(uno),
	address    TEXT NOT NULL,
	normalized TEXT NOT NULL UNIQUE,     -- address.Normalize
	main       INTEGER NOT NULL DEFAULT 0,
	created    INTEGER NOT NULL
);
CREATE INDEX addresses_uno ON addresses(uno);

CREATE TABLE mailboxes (
	mbx            INTEGER PRIMARY KEY,
	id             TEXT NOT NULL UNIQUE,
	uno            INTEGER NOT NULL REFERENCES users(uno),
	name           TEXT NOT NULL,
	special_use    TEXT NOT NULL DEFAULT '',
	uid_validity   INTEGER NOT NULL,
	uid_next       INTEGER NOT NULL DEFAULT 1,
	highest_modseq INTEGER NOT NULL DEFAULT 0,
	subscribed     INTEGER NOT NULL DEFAULT 0,
	created        INTEGER NOT NULL,
	-- Counters maintained in the same transaction as every message change.
	total          INTEGER NOT NULL DEFAULT 0,
	unseen         INTEGER NOT NULL DEFAULT 0,
	size           INTEGER NOT NULL DEFAULT 0,
	UNIQUE (uno, name)
);
CREATE INDEX mailboxes_special ON mailboxes(uno, special_use) WHERE special_use <> '';

CREATE TABLE messages (
	mno             INTEGER PRIMARY KEY,  -- also the rowid of fts
	id              TEXT NOT NULL UNIQUE,
	uno             INTEGER NOT NULL REFERENCES users(uno),
	mbx             INTEGER NOT NULL REFERENCES mailboxes(mbx),
	uid             INTEGER NOT NULL,
	modseq          INTEGER NOT NULL,
	sys             INTEGER NOT NULL DEFAULT 0, -- system flag bits, see flags.go
	flags           TEXT NOT NULL DEFAULT '',   -- all flags, sorted, space separated
	internal_date   INTEGER NOT NULL,
	size            INTEGER NOT NULL,
	thread_id       TEXT NOT NULL,
	subject         TEXT NOT NULL DEFAULT '',
	from_addr       TEXT NOT NULL DEFAULT '',
	sent_date       INTEGER,                    -- NULL: no Date: header
	message_id      TEXT NOT NULL DEFAULT '',
	intro           TEXT NOT NULL DEFAULT '',
	has_attachments INTEGER NOT NULL DEFAULT 0,
	UNIQUE (mbx, uid)
);
-- Covering index for ListRefs / Fetch ranges (no table access).
CREATE INDEX messages_refs ON messages(mbx, uid, modseq, sys, flags, id);
CREATE INDEX messages_modseq ON messages(mbx, modseq);
CREATE INDEX messages_msgid ON messages(uno, message_id) WHERE message_id <> '';
CREATE INDEX messages_uno ON messages(uno);

-- Large per-message data, kept out of the hot rows.
CREATE TABLE message_data (
	mno      INTEGER PRIMARY KEY,
	segments BLOB NOT NULL,  -- binary segment list, see blobs.go
	meta     BLOB
);

-- References: header entries, for threading replies that arrive first.
CREATE TABLE message_refs (
	mno INTEGER NOT NULL,
	uno INTEGER NOT NULL,
	ref TEXT NOT NULL
);
CREATE INDEX message_refs_ref ON message_refs(uno, ref);
CREATE INDEX message_refs_mno ON message_refs(mno);

-- Reference counts of blobs: refs = number of message segments naming hash.
CREATE TABLE blob_refs (
	hash TEXT PRIMARY KEY,
	refs INTEGER NOT NULL,
	size INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE journal (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	uno        INTEGER NOT NULL,
	mailbox_id TEXT NOT NULL,
	kind       TEXT NOT NULL,
	modseq     INTEGER NOT NULL DEFAULT 0,
	uid        INTEGER NOT NULL DEFAULT 0,
	message_id TEXT NOT NULL DEFAULT '',
	flags      TEXT NOT NULL DEFAULT '',
	name       TEXT NOT NULL DEFAULT '',
	old_name   TEXT NOT NULL DEFAULT '',
	time       INTEGER NOT NULL
);
CREATE INDEX journal_uno ON journal(uno, seq);
CREATE INDEX journal_mailbox ON journal(mailbox_id, seq);

-- Full-text index: rowid = messages.mno. Trigram gives case-insensitive
-- substring matching for terms of 3+ characters.
CREATE VIRTUAL TABLE fts USING fts5(headers, body, tokenize = 'trigram', columnsize = 0);
