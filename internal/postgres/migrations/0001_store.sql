-- The iotdm.Store: entities by kind and key, the change feed, and the feed's
-- head (the last seq), whose one row every write transaction locks first so
-- that writers on every node run one at a time and seqs stay gap-free and in
-- commit order.

-- Keys use the "C" collation so that they compare and sort by bytes, like Go
-- strings, whatever the database's default collation.
CREATE TABLE entities (
	kind  text NOT NULL,
	key   text COLLATE "C" NOT NULL,
	value bytea NOT NULL,
	PRIMARY KEY (kind, key)
);

-- One row per committed Put or Delete, in commit order. A delete's value is
-- the entity's last value.
CREATE TABLE changes (
	seq   bigint PRIMARY KEY CHECK (seq > 0),
	time  timestamptz NOT NULL,
	op    text NOT NULL CHECK (op IN ('put', 'delete')),
	kind  text NOT NULL,
	key   text COLLATE "C" NOT NULL,
	value bytea NOT NULL
);

-- The one row holding the seq of the last committed change (0: none).
CREATE TABLE feed_head (
	one boolean PRIMARY KEY DEFAULT true CHECK (one),
	seq bigint NOT NULL CHECK (seq >= 0)
);
INSERT INTO feed_head (one, seq) VALUES (true, 0);
