-- Metrics (metrics.go): observations for CloudWatch, kept apart from the
-- entities and the change feed.
--
-- metric_series: one row per metric (namespace, name, canonical dimensions)
-- and unit; last is the newest observation's bucket, Unix seconds, for
-- ListMetrics' RecentlyActive and for expiry.
CREATE TABLE metric_series (
	id        INTEGER PRIMARY KEY,
	namespace TEXT NOT NULL,
	name      TEXT NOT NULL,
	dims      TEXT NOT NULL,
	unit      TEXT NOT NULL,
	last      INTEGER NOT NULL,
	UNIQUE (namespace, name, dims, unit)
);

-- metric_data: one row per series and minute; metric_data_hr: one row per
-- series and second, for high-resolution observations, rolled up into
-- metric_data after three hours. key is the series id << 32 | the bucket's
-- start in Unix seconds, so one series' rows are one key range in time
-- order. data is the bucket packed (metricRow in metrics.go): SampleCount,
-- Sum, Minimum and Maximum as four little-endian float64, then the values
-- kept for percentiles. One column reads faster than five.
CREATE TABLE metric_data (
	key  INTEGER PRIMARY KEY,
	data BLOB NOT NULL
);

CREATE TABLE metric_data_hr (
	key  INTEGER PRIMARY KEY,
	data BLOB NOT NULL
);
