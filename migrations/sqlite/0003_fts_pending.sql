-- Eider SQLite schema, version 3: full-text indexing leaves the delivery
-- path.
--
-- An append stores its cleaned header and body text here, a plain row, in
-- the append's own transaction; the background indexer (mail/sqlite/
-- indexer.go) later moves batches of rows into fts and fts_words, in
-- transactions of its own. A row here is the durable mark "not yet
-- indexed": a crash leaves the rows, and the indexer resumes from them
-- after the next Open. Search reads both: the index for indexed messages, a
-- scan of these rows (eider_contains, the same substring semantics) for the
-- others, in one snapshot, so a message is found from the moment its
-- append returns.
CREATE TABLE fts_pending (
	mno     INTEGER PRIMARY KEY, -- messages.mno
	headers TEXT NOT NULL,
	body    TEXT NOT NULL
);

-- An expunged or deleted message leaves the queue with its row (the
-- indexed ones leave fts through the statements that delete them).
CREATE TRIGGER fts_pending_ad AFTER DELETE ON messages BEGIN
	DELETE FROM fts_pending WHERE mno = old.mno;
END;
