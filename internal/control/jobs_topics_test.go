package control_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/iotdm/iotdm"
)

// jobsMsg decodes a published message's JSON payload.
func jobsMsg(t *testing.T, m published) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(m.Payload), &v); err != nil {
		t.Fatalf("payload on %s is not a JSON object: %q", m.Topic, m.Payload)
	}
	if m.QoS != 1 || m.Retain {
		t.Errorf("%s published at QoS %d retain %v, want QoS 1, not retained", m.Topic, m.QoS, m.Retain)
	}
	return v
}

// mqtt publishes a request as the device and returns what the service
// published in answer.
func (e *jobsEnv) mqtt(topic, payload string) []published {
	e.t.Helper()
	if err := e.jobs.HandleMQTT(e.ctx, topic, []byte(payload), "device-1"); err != nil {
		e.t.Fatalf("HandleMQTT(%s): %v", topic, err)
	}
	return e.pub.take()
}

// only returns the single message, failing unless there is exactly one on
// topic.
func only(t *testing.T, msgs []published, topic string) map[string]any {
	t.Helper()
	if len(msgs) != 1 || msgs[0].Topic != topic {
		t.Fatalf("published %v, want one message on %s", topics(msgs), topic)
	}
	return jobsMsg(t, msgs[0])
}

func TestJobsMQTTDeviceFlow(t *testing.T) {
	e := newJobsEnv(t)
	e.things("d")
	const base = "$aws/things/d/jobs"
	ts := float64(e.clk.Now().Unix())

	e.createJob(&iotdm.CreateJobInput{JobID: "fw", Targets: thingARNs("d")})
	msgs := e.pub.take()
	if diff := cmp.Diff([]string{base + "/notify", base + "/notify-next"}, topics(msgs)); diff != "" {
		t.Fatalf("messages of a new job (-want +got):\n%s", diff)
	}
	queued := map[string]any{"jobId": "fw", "queuedAt": ts, "lastUpdatedAt": ts, "versionNumber": float64(1), "executionNumber": float64(1)}
	if diff := cmp.Diff(map[string]any{"timestamp": ts, "jobs": map[string]any{"QUEUED": []any{queued}}}, jobsMsg(t, msgs[0])); diff != "" {
		t.Errorf("notify (-want +got):\n%s", diff)
	}
	next := jobsMsg(t, msgs[1])["execution"].(map[string]any)
	if next["jobId"] != "fw" || next["thingName"] != "d" || next["status"] != "QUEUED" || next["jobDocument"] != `{"operation":"update","version":"1.2.0"}` {
		t.Errorf("notify-next execution = %v", next)
	}

	got := only(t, e.mqtt(base+"/get", `{"clientToken":"c1"}`), base+"/get/accepted")
	want := map[string]any{"clientToken": "c1", "timestamp": ts, "inProgressJobs": []any{}, "queuedJobs": []any{queued}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("get/accepted (-want +got):\n%s", diff)
	}

	e.clk.advance(10 * time.Second)
	ts2 := float64(e.clk.Now().Unix())
	// Starting the next execution changes neither the pending list nor
	// which execution is next: only the reply.
	got = only(t, e.mqtt(base+"/start-next", `{"clientToken":"c2","statusDetails":{"phase":"download"},"stepTimeoutInMinutes":5}`), base+"/start-next/accepted")
	x := got["execution"].(map[string]any)
	if got["clientToken"] != "c2" || x["status"] != "IN_PROGRESS" || x["versionNumber"] != float64(2) || x["startedAt"] != ts2 ||
		x["approximateSecondsBeforeTimedOut"] != float64(300) || x["statusDetails"].(map[string]any)["phase"] != "download" {
		t.Errorf("start-next/accepted = %v", got)
	}

	got = only(t, e.mqtt(base+"/$next/get", `{"includeJobDocument":false}`), base+"/$next/get/accepted")
	if x := got["execution"].(map[string]any); x["jobId"] != "fw" || x["jobDocument"] != nil || got["clientToken"] != nil {
		t.Errorf("$next/get/accepted = %v, want fw without its document", got)
	}
	got = only(t, e.mqtt(base+"/fw/get", ``), base+"/fw/get/accepted")
	if x := got["execution"].(map[string]any); x["jobDocument"] == nil {
		t.Errorf("fw/get/accepted = %v, want the document by default", got)
	}

	got = only(t, e.mqtt(base+"/fw/update", `{"status":"IN_PROGRESS","expectedVersion":1,"clientToken":"c3"}`), base+"/fw/update/rejected")
	want = map[string]any{"code": "VersionMismatch", "clientToken": "c3", "timestamp": ts2, "message": got["message"],
		"executionState": map[string]any{"status": "IN_PROGRESS", "statusDetails": map[string]any{"phase": "download"}, "versionNumber": float64(2)}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("update/rejected (-want +got):\n%s", diff)
	}

	// A second job joins the pending list; the in-progress one stays next.
	e.createJob(&iotdm.CreateJobInput{JobID: "cfg", Targets: thingARNs("d")})
	only(t, e.pub.take(), base+"/notify")

	msgs = e.mqtt(base+"/fw/update", `{"status":"SUCCEEDED","expectedVersion":2,"includeJobExecutionState":true,"clientToken":"c4"}`)
	if diff := cmp.Diff([]string{base + "/notify", base + "/notify-next", base + "/fw/update/accepted"}, topics(msgs)); diff != "" {
		t.Fatalf("messages of the final update (-want +got):\n%s", diff)
	}
	if n := jobsMsg(t, msgs[1])["execution"].(map[string]any); n["jobId"] != "cfg" {
		t.Errorf("notify-next after fw succeeded = %v, want cfg", n)
	}
	want = map[string]any{"clientToken": "c4", "timestamp": ts2,
		"executionState": map[string]any{"status": "SUCCEEDED", "statusDetails": map[string]any{"phase": "download"}, "versionNumber": float64(3)}}
	if diff := cmp.Diff(want, jobsMsg(t, msgs[2])); diff != "" {
		t.Errorf("update/accepted (-want +got):\n%s", diff)
	}

	got = only(t, e.mqtt(base+"/fw/update", `{"status":"IN_PROGRESS"}`), base+"/fw/update/rejected")
	if got["code"] != "InvalidStateTransition" {
		t.Errorf("update of a terminal execution = %v, want InvalidStateTransition", got)
	}

	msgs = e.mqtt(base+"/cfg/update", `{"status":"REJECTED"}`)
	if diff := cmp.Diff([]string{base + "/notify", base + "/notify-next", base + "/cfg/update/accepted"}, topics(msgs)); diff != "" {
		t.Fatalf("messages of the last pending execution's end (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]any{"timestamp": ts2, "jobs": map[string]any{}}, jobsMsg(t, msgs[0])); diff != "" {
		t.Errorf("empty notify (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]any{"timestamp": ts2}, jobsMsg(t, msgs[1])); diff != "" {
		t.Errorf("empty notify-next (-want +got):\n%s", diff)
	}
	got = only(t, e.mqtt(base+"/start-next", `{}`), base+"/start-next/accepted")
	if diff := cmp.Diff(map[string]any{"timestamp": ts2}, got); diff != "" {
		t.Errorf("start-next with nothing pending (-want +got):\n%s", diff)
	}
}

func TestJobsMQTTRejections(t *testing.T) {
	e := newJobsEnv(t)
	e.things("d")
	const base = "$aws/things/d/jobs"
	for _, tt := range []struct {
		name, topic, payload, code string
	}{
		{"invalid JSON", base + "/get", `{"clientToken":`, "InvalidJson"},
		{"unknown job", base + "/nope/update", `{"status":"IN_PROGRESS","clientToken":"k"}`, "ResourceNotFound"},
		{"unknown job get", base + "/nope/get", `{}`, "ResourceNotFound"},
		{"status of the wrong type", base + "/nope/update", `{"status":7}`, "InvalidRequest"},
		{"status not for devices", base + "/nope/update", `{"status":"CANCELED"}`, "InvalidRequest"},
		{"bad step timeout", base + "/start-next", `{"stepTimeoutInMinutes":99999}`, "InvalidRequest"},
		{"unknown thing", "$aws/things/ghost/jobs/get", `{}`, "ResourceNotFound"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			msgs := e.mqtt(tt.topic, tt.payload)
			got := only(t, msgs, tt.topic+"/rejected")
			if got["code"] != tt.code || got["timestamp"] == nil || got["message"] == "" {
				t.Errorf("rejection = %v, want code %s", got, tt.code)
			}
		})
	}
	got := only(t, e.mqtt(base+"/nope/update", `{"status":"IN_PROGRESS","clientToken":"k"}`), base+"/nope/update/rejected")
	if got["clientToken"] != "k" {
		t.Errorf("rejection clientToken = %v, want k", got["clientToken"])
	}
	// Replies, notifications and unknown topics are no requests.
	for _, topic := range []string{base + "/get/accepted", base + "/notify", base + "/notify-next", base + "/j/update/accepted",
		base + "/start-next/rejected", "$aws/things/d/shadow/get", base, base + "/j/get/accepted/x"} {
		if msgs := e.mqtt(topic, `{}`); len(msgs) != 0 {
			t.Errorf("HandleMQTT(%s) published %v, want nothing", topic, topics(msgs))
		}
	}
}
