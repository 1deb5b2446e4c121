-- Eider SQLite schema, version 9: a message's text is stored once, and
-- large texts are indexed as word sets.
--
-- Until version 8 the cleaned text of a message was written twice: into
-- fts_pending by the append, then again into the fts table's content by
-- the indexer (which also deleted it from fts_pending). Now it lives in
-- fts_text only, from the append to the message's deletion: fts_pending is
-- reduced to the queue of message numbers, and the full-text tables are
-- contentless (content = ''): they hold the index alone. Search checks
-- stored text (eider_contains, eider_header) against fts_text.
--
-- Two indexes (mail/sqlite/indexer.go decides which one by the text's
-- size):
--   fts      the words of a text with their positions (phrases work), for
--            texts under the large-text threshold;
--   fts_bag  the set of distinct words of each column, for larger texts:
--            one entry per distinct word instead of one per occurrence,
--            with no positions (detail = column keeps column filters).
--            A string of several words is matched there by AND, and the
--            stored text is checked, as for any multi-word string.
-- contentless_delete lets DELETE ... WHERE rowid remove a row without its
-- text (it needs columnsize, the per-row size record, kept on).
--
-- Existing stores: every message's text moves to fts_text and its number
-- to the queue; the old index is dropped and the background indexer
-- rebuilds both indexes after the upgrade. Search stays exact meanwhile
-- (it scans the queued texts), only slower until the queue drains. The
-- word list fts_words is kept: its invariant (it holds every indexed word)
-- holds trivially for empty indexes and is maintained by the indexer.

CREATE TABLE fts_text (
	mno     INTEGER PRIMARY KEY, -- messages.mno
	headers TEXT NOT NULL,
	body    TEXT NOT NULL
);
INSERT INTO fts_text(mno, headers, body) SELECT rowid, headers, body FROM fts;
INSERT OR IGNORE INTO fts_text(mno, headers, body) SELECT mno, headers, body FROM fts_pending;

DROP TRIGGER fts_pending_ad;
DROP TABLE fts_pending;
CREATE TABLE fts_pending (
	mno INTEGER PRIMARY KEY -- messages.mno, not yet indexed
);
INSERT INTO fts_pending(mno) SELECT mno FROM fts_text;


DROP TABLE fts_vocab;
DROP TABLE fts;
CREATE VIRTUAL TABLE fts USING fts5(headers, body,
	tokenize = 'unicode61 remove_diacritics 0', content = '', contentless_delete = 1);
CREATE VIRTUAL TABLE fts_bag USING fts5(headers, body,
	tokenize = 'unicode61 remove_diacritics 0', content = '', contentless_delete = 1, detail = column);
CREATE VIRTUAL TABLE fts_vocab USING fts5vocab(fts, 'row');
CREATE VIRTUAL TABLE fts_bag_vocab USING fts5vocab(fts_bag, 'row');

-- A deleted message leaves the indexes, the queue and the text store here,
-- whichever of them holds it (a contentless_delete table ignores a rowid
-- it does not hold).
CREATE TRIGGER fts_pending_ad AFTER DELETE ON messages BEGIN
	DELETE FROM fts WHERE rowid = old.mno;
	DELETE FROM fts_bag WHERE rowid = old.mno;
	DELETE FROM fts_pending WHERE mno = old.mno;
	DELETE FROM fts_text WHERE mno = old.mno;
END;
