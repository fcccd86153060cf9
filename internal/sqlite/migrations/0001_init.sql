-- Entities: the current state, one row per kind and key. Keys compare with
-- the BINARY collation, i.e. byte order, which is Go's string order.
CREATE TABLE entities (
	kind  TEXT NOT NULL,
	key   TEXT NOT NULL,
	value BLOB NOT NULL,
	PRIMARY KEY (kind, key)
) WITHOUT ROWID;

-- Changes: the feed, one row per committed Put or Delete. seq is assigned by
-- the writer (gap-free, starting at 1); time is Unix nanoseconds (UTC); value
-- is the deleted value on delete (NULL in changes written by older versions).
CREATE TABLE changes (
	seq   INTEGER PRIMARY KEY,
	time  INTEGER NOT NULL,
	op    TEXT NOT NULL,
	kind  TEXT NOT NULL,
	key   TEXT NOT NULL,
	value BLOB
);
