package sim

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// Devices take AWS IoT Jobs through the jobs MQTT API: each subscribes to
// its notify-next, start-next and update replies, asks for its next job
// (start-next) once connected and on every notify-next that names one,
// installs the firmware of a firmware job after FirmwareDelay (reporting it
// in its shadow, as for a desired firmware) and updates the execution to
// SUCCEEDED, or FAILED for a share JobFailureRate of them. Any other job
// document is answered FAILED at once. A policy that does not let the
// device subscribe to $aws/things/{thing}/jobs/* (the seed stack's does
// not) leaves the device without jobs; the rest of the simulation runs.

// simJob is the job execution a device is working on.
type simJob struct {
	id       string
	version  int64  // the execution's versionNumber, for expectedVersion
	firmware string // the version to install; "" keeps the current one
	status   string // the status sent in the update, once sent
}

// jobsTopic is $aws/things/{thing}/jobs/{rest}.
func jobsTopic(thing, rest string) string { return "$aws/things/" + thing + "/jobs/" + rest }

// subscribeJobs subscribes c to the jobs replies of d. It reports false,
// with no error, when the server refused the subscription (the policy).
func (s *Simulator) subscribeJobs(ctx context.Context, c *paho.Client, d *device) (bool, error) {
	subs := []paho.SubscribeOptions{
		{Topic: jobsTopic(d.name, "notify-next"), QoS: 1},
		{Topic: jobsTopic(d.name, "start-next/accepted"), QoS: 1},
		{Topic: jobsTopic(d.name, "start-next/rejected"), QoS: 1},
		{Topic: jobsTopic(d.name, "+/update/accepted"), QoS: 1},
		{Topic: jobsTopic(d.name, "+/update/rejected"), QoS: 1},
	}
	sa, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: subs})
	if err == nil {
		return true, nil
	}
	if sa == nil { // no SUBACK: the connection failed
		return false, err
	}
	refused := false
	for _, r := range sa.Reasons {
		refused = refused || r >= 0x80
	}
	if !refused {
		return true, nil
	}
	s.jobsRefused.Add(1)
	if !s.jobsHint.Swap(true) {
		s.log.Warn("the device policy does not allow the jobs topics: simulated devices take no jobs; allow "+
			"iot:Subscribe on topicfilter/$aws/things/${iot:Connection.Thing.ThingName}/jobs/* and iot:Publish, "+
			"iot:Receive on topic/$aws/things/${iot:Connection.Thing.ThingName}/jobs/*", "thing", d.name)
	}
	s.fail("%s: subscription to the jobs topics refused (SUBACK %v): the policy needs $aws/things/${iot:Connection.Thing.ThingName}/jobs/*", d.name, sa.Reasons)
	return false, nil
}

// onJobsMessage handles a jobs reply or notification on the client's
// goroutine: it only updates state and schedules.
func (s *Simulator) onJobsMessage(d *device, gen uint32, topic string, payload []byte) {
	rest := strings.TrimPrefix(topic, jobsTopic(d.name, ""))
	switch {
	case rest == "notify-next":
		var m struct {
			Execution *struct {
				JobID string `json:"jobId"`
			} `json:"execution"`
		}
		if json.Unmarshal(payload, &m) != nil || m.Execution == nil {
			return // nothing pending
		}
		d.mu.Lock()
		busy := d.gen != gen || d.job != nil
		d.mu.Unlock()
		if !busy {
			s.sched.add(event{at: s.at(0), dev: d, gen: gen, kind: evJobNext})
		}
	case rest == "start-next/accepted":
		var m struct {
			Execution *struct {
				JobID         string          `json:"jobId"`
				VersionNumber int64           `json:"versionNumber"`
				JobDocument   json.RawMessage `json:"jobDocument"`
			} `json:"execution"`
		}
		if json.Unmarshal(payload, &m) != nil || m.Execution == nil || m.Execution.JobID == "" {
			return
		}
		x := m.Execution
		fw, ok := firmwareJob(x.JobDocument)
		job := &simJob{id: x.JobID, version: x.VersionNumber, firmware: fw}
		delay := time.Duration((0.5 + rand.Float64()) * float64(s.cfg.FirmwareDelay))
		if !ok {
			job.status = "unsupported" // answered FAILED at once
			delay = 0
		}
		d.mu.Lock()
		if d.gen != gen || (d.job != nil && d.job.id == x.JobID) {
			d.mu.Unlock()
			return
		}
		d.job = job
		d.mu.Unlock()
		s.sched.add(event{at: s.at(delay), dev: d, gen: gen, kind: evJob})
	case rest == "start-next/rejected":
		s.jobsRejected.Add(1)
		code, msg := parseJobsError(payload)
		s.fail("%s: jobs start-next rejected: %s %s", d.name, code, msg)
	case strings.HasSuffix(rest, "/update/accepted"), strings.HasSuffix(rest, "/update/rejected"):
		id := strings.TrimSuffix(strings.TrimSuffix(rest, "/update/accepted"), "/update/rejected")
		d.mu.Lock()
		j := d.job
		mine := d.gen == gen && j != nil && j.id == id
		if mine {
			d.job = nil
		}
		d.mu.Unlock()
		if !mine {
			return
		}
		if strings.HasSuffix(rest, "/rejected") {
			s.jobsRejected.Add(1)
			code, msg := parseJobsError(payload)
			s.fail("%s: job %s update rejected: %s %s", d.name, id, code, msg)
		} else if j.status == "SUCCEEDED" {
			s.jobsSucceeded.Add(1)
		} else {
			s.jobsFailed.Add(1)
		}
		// The next job, if any, comes with notify-next.
	}
}

// firmwareJob reads a job document (the execution's jobDocument, a JSON
// string, or the document itself): ok when it is a firmware update, with
// the version to install.
func firmwareJob(raw json.RawMessage) (version string, ok bool) {
	var str string
	if json.Unmarshal(raw, &str) == nil {
		raw = json.RawMessage(str)
	}
	var doc map[string]any
	if json.Unmarshal(raw, &doc) != nil {
		return "", false
	}
	op, _ := doc["operation"].(string)
	ok = strings.EqualFold(op, "firmwareUpdate")
	for _, k := range []string{"version", "firmware", "firmwareVersion"} {
		switch v := doc[k].(type) {
		case string:
			if v != "" {
				return v, true
			}
		case map[string]any:
			if vv, _ := v["version"].(string); vv != "" {
				return vv, true
			}
		}
	}
	return "", ok
}

func parseJobsError(payload []byte) (code, msg string) {
	var e struct{ Code, Message string }
	_ = json.Unmarshal(payload, &e)
	return e.Code, e.Message
}

// startNextJob publishes start-next on connection e.gen.
func (s *Simulator) startNextJob(ctx context.Context, e event) {
	d := e.dev
	d.mu.Lock()
	c := d.live(e.gen)
	ok := c != nil && d.jobs && d.job == nil
	d.mu.Unlock()
	if ok {
		s.publish(ctx, c, jobsTopic(d.name, "start-next"), 1, []byte("{}"), nil)
	}
}

// finishJob applies the job in progress (or fails it) and updates its
// execution.
func (s *Simulator) finishJob(ctx context.Context, e event) {
	d := e.dev
	d.mu.Lock()
	c, j := d.live(e.gen), d.job
	if c == nil || j == nil || (j.status != "" && j.status != "unsupported") {
		d.mu.Unlock()
		return
	}
	details := map[string]string{}
	var report []byte
	switch {
	case j.status == "unsupported":
		j.status = "FAILED"
		details["reason"] = "unsupported job document"
	case s.cfg.JobFailureRate > 0 && rand.Float64() < s.cfg.JobFailureRate:
		j.status = "FAILED"
		details["reason"] = "simulated installation failure"
		details["firmware"] = d.firmware
	default:
		j.status = "SUCCEEDED"
		if j.firmware != "" && j.firmware != d.firmware {
			d.firmware = j.firmware
			if d.pending == j.firmware {
				d.pending = ""
			}
			report = d.report(time.Now())
		}
		details["firmware"] = d.firmware
	}
	fw := d.firmware
	d.mu.Unlock()
	if report != nil && s.publish(ctx, c, d.topics.ShadowUpdate, 1, report, &s.shadowUpdates) {
		s.firmwareReported(d, fw)
	}
	body, _ := json.Marshal(map[string]any{"status": j.status, "expectedVersion": j.version, "statusDetails": details})
	s.publish(ctx, c, jobsTopic(d.name, j.id+"/update"), 1, body, nil)
}
