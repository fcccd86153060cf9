package sim

import (
	"encoding/json"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
)

// A simulated sensor: temperature and humidity drift around the device's
// own base values on slow waves with a little noise; the battery drains
// about one percent a minute and is replaced (100 %) below 5 %.

const (
	tempPeriod     = 10 * time.Minute
	humidityPeriod = 15 * time.Minute
)

func (d *device) sample(now time.Time) (temp, hum, batt float64) {
	t := float64(now.UnixNano()) / 1e9
	temp = d.baseTemp + 3*math.Sin(2*math.Pi*t/tempPeriod.Seconds()+d.phase) + 0.2*rand.NormFloat64()
	hum = d.baseHumidity + 5*math.Sin(2*math.Pi*t/humidityPeriod.Seconds()+d.phase) + 0.5*rand.NormFloat64()
	hum = min(max(hum, 0), 100)
	if dt := now.Sub(d.lastDrain).Seconds(); dt > 0 {
		d.battery -= dt * d.drain
		d.lastDrain = now
		if d.battery < 5 {
			d.battery = 100
		}
	}
	return temp, hum, d.battery
}

// telemetry is the payload of one telemetry message. Call with d.mu held.
func (d *device) telemetry(now time.Time) []byte {
	temp, hum, batt := d.sample(now)
	d.seq++
	b := make([]byte, 0, 160)
	b = append(b, `{"thingName":`...)
	b = strconv.AppendQuote(b, d.name)
	b = append(b, `,"timestamp":`...)
	b = strconv.AppendInt(b, now.UnixMilli(), 10)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, d.seq, 10)
	b = appendReadings(b, temp, hum, batt)
	return append(b, '}')
}

func appendReadings(b []byte, temp, hum, batt float64) []byte {
	b = append(b, `,"temperature":`...)
	b = strconv.AppendFloat(b, temp, 'f', 2, 64)
	b = append(b, `,"humidity":`...)
	b = strconv.AppendFloat(b, hum, 'f', 1, 64)
	b = append(b, `,"battery":`...)
	return strconv.AppendFloat(b, batt, 'f', 1, 64)
}

// report is a shadow update reporting the device's state. Call with d.mu
// held.
func (d *device) report(now time.Time) []byte {
	temp, hum, batt := d.sample(now)
	b := make([]byte, 0, 192)
	b = append(b, `{"state":{"reported":{"firmware":`...)
	b = strconv.AppendQuote(b, d.firmware)
	b = appendReadings(b, temp, hum, batt)
	for _, k := range slices.Sorted(maps.Keys(d.extra)) {
		v, err := json.Marshal(d.extra[k])
		if err != nil {
			continue
		}
		b = append(b, ',')
		b = strconv.AppendQuote(b, k)
		b = append(b, ':')
		b = append(b, v...)
	}
	return append(b, "}}}"...)
}

// parseDelta returns the delta of a …/update/delta message, or with get
// the "delta" section of a …/get/accepted one.
func parseDelta(payload []byte, get bool) (map[string]any, bool) {
	var doc struct {
		State map[string]any `json:"state"`
	}
	if json.Unmarshal(payload, &doc) != nil {
		return nil, false
	}
	if !get {
		return doc.State, doc.State != nil
	}
	delta, _ := doc.State["delta"].(map[string]any)
	return delta, true
}

// parseError returns the code and message of a /rejected error document.
func parseError(payload []byte) (int, string) {
	var doc struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	_ = json.Unmarshal(payload, &doc)
	return doc.Code, doc.Message
}
