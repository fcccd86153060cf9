package main

import (
	"context"
	"time"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/fleetindex"
	"github.com/iotdm/iotdm/internal/telemetry"
)

// fleetIndexSource reports the fleet indices to the metrics: their sizes
// and how far they lag behind the store's change feed.
func fleetIndexSource(f *fleetindex.Feeder, store iotdm.Store) telemetry.IndexSource {
	return func() (map[string]int, uint64, float64) {
		docs := map[string]int{
			iotdm.IndexThings:      f.Things().Len(),
			iotdm.IndexThingGroups: f.Groups().Len(),
		}
		applied, at := f.AppliedAt()
		head, err := store.LastSeq(context.Background())
		if err != nil { // closed: nothing is behind any more
			head = applied
		}
		lag, secs := telemetry.IndexLag(head, applied, at, time.Now())
		return docs, lag, secs
	}
}
