-- CloudWatch Logs streams and events (see logevents.go): append-only data
-- kept beside the entities, never in the change feed. A log group's
-- incarnation (its name and creation time) owns its streams; events belong
-- to a stream and carry their group too, so that one index serves the
-- searches across a group's streams in time order.
CREATE TABLE log_groups (
	id      INTEGER PRIMARY KEY,
	name    TEXT NOT NULL,
	created INTEGER NOT NULL, -- the group's creationTime, epoch ms
	UNIQUE (name, created)
);

CREATE TABLE log_streams (
	id             INTEGER PRIMARY KEY,
	grp            INTEGER NOT NULL REFERENCES log_groups (id),
	name           TEXT NOT NULL,
	created        INTEGER NOT NULL, -- epoch ms
	first_event    INTEGER NOT NULL DEFAULT -1, -- -1 until the stream's first event
	last_event     INTEGER NOT NULL DEFAULT -1,
	last_ingestion INTEGER NOT NULL DEFAULT -1,
	stored_bytes   INTEGER NOT NULL DEFAULT 0, -- UTF-8 bytes of the messages held
	events         INTEGER NOT NULL DEFAULT 0, -- events ever stored (the upload sequence)
	UNIQUE (grp, name)
);
CREATE INDEX log_streams_last_event ON log_streams (grp, last_event, name);

-- id is AUTOINCREMENT so that an event id is never reused, even after the
-- newest events are deleted: page tokens are (ts, id) positions.
CREATE TABLE log_events (
	id       INTEGER PRIMARY KEY AUTOINCREMENT,
	grp      INTEGER NOT NULL,
	stream   INTEGER NOT NULL,
	ts       INTEGER NOT NULL, -- the event's timestamp, epoch ms
	ingested INTEGER NOT NULL, -- epoch ms
	message  TEXT NOT NULL
);
CREATE INDEX log_events_stream_ts ON log_events (stream, ts, id);
CREATE INDEX log_events_grp_ts ON log_events (grp, ts, id);
