-- Eider SQLite schema, version 2: the full-text index becomes a word index.
--
-- Version 1 indexed message text by trigrams: about 11 KB of index per
-- 4 KB message, and a common word took over 100 ms to find in 100,000
-- messages. Version 2 indexes words, and keeps a small trigram index over
-- the list of distinct words: a substring search (RFC 3501 §6.4.4) is
-- expanded into the indexed words that contain it (see mail/sqlite/search.go).
--
-- Existing stores are re-indexed here, inside the migration's transaction:
-- the stored text is copied from the old index into the new one, and the
-- word list is read back from the new index itself (fts5vocab), so it holds
-- exactly the words SQLite indexed.

ALTER TABLE fts RENAME TO fts_v1;

-- rowid = messages.mno. unicode61 without diacritic removal: "é" and "e"
-- stay different letters, as in a substring match. The Go word splitter in
-- mail/sqlite/words.go must split and fold exactly like this tokenizer.
CREATE VIRTUAL TABLE fts USING fts5(headers, body,
	tokenize = 'unicode61 remove_diacritics 0', columnsize = 0);
INSERT INTO fts(rowid, headers, body) SELECT rowid, headers, body FROM fts_v1;
DROP TABLE fts_v1;

-- Every word of fts (folded as unicode61 folds it), added when a message is
-- indexed. Words are never removed: a word whose messages are all gone only
-- costs an empty expansion.
CREATE TABLE fts_words (
	id   INTEGER PRIMARY KEY,
	term TEXT NOT NULL UNIQUE
);

-- Trigram index over the word list (external content: the words are not
-- stored twice), kept in step by the trigger.
CREATE VIRTUAL TABLE fts_words_tri USING fts5(term, tokenize = 'trigram',
	content = 'fts_words', content_rowid = 'id', columnsize = 0);
CREATE TRIGGER fts_words_ai AFTER INSERT ON fts_words BEGIN
	INSERT INTO fts_words_tri(rowid, term) VALUES (new.id, new.term);
END;

-- The distinct words of fts as SQLite indexed them (used here and by the
-- consistency check).
CREATE VIRTUAL TABLE fts_vocab USING fts5vocab(fts, 'row');
INSERT INTO fts_words(term) SELECT term FROM fts_vocab;

-- Full-text hits are joined to a mailbox through this narrow index (mno ->
-- mailbox, uid) when they are few next to the mailbox's size (see Search):
-- looking a hit up here touches far fewer pages than the wide messages rows.
CREATE INDEX messages_mno ON messages(mno, mbx, uid);
