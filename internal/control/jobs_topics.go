package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/iotdm/iotdm"
)

// The MQTT jobs API (AWS "Jobs device MQTT API operations"): a device
// publishes a request on
//
//	$aws/things/{thing}/jobs/get                 GetPendingJobExecutions
//	$aws/things/{thing}/jobs/start-next          StartNextPendingJobExecution
//	$aws/things/{thing}/jobs/{jobId|$next}/get   DescribeJobExecution
//	$aws/things/{thing}/jobs/{jobId}/update      UpdateJobExecution
//
// and the service answers on the request topic plus /accepted (the
// response, with timestamp and the request's clientToken) or /rejected (the
// ErrorResponse {code, message, timestamp, clientToken?, executionState?}).
// The requests run the data-plane operations of jobs_data.go, so both APIs
// share validation, versions and notifications: $aws/things/{thing}/jobs/notify
// when an execution joins or leaves the thing's pending list, and
// .../notify-next when its next pending execution changes.

// JobsTopicFilter is the topic filter of the jobs requests, for the
// broker's server-side Subscribe. It also matches the service's own
// replies and notifications; HandleMQTT ignores what is no request.
const JobsTopicFilter = "$aws/things/+/jobs/#"

// Error codes of the MQTT ErrorResponse.
const (
	jobsInvalidTopic           = "InvalidTopic"
	jobsInvalidJSON            = "InvalidJson"
	jobsInvalidRequest         = "InvalidRequest"
	jobsInvalidStateTransition = "InvalidStateTransition"
	jobsResourceNotFound       = "ResourceNotFound"
	jobsVersionMismatch        = "VersionMismatch"
	jobsInternalError          = "InternalError"
	jobsRequestThrottled       = "RequestThrottled"
)

// jobsRequest is a request topic taken apart.
type jobsRequest struct {
	thing, jobID, op string // op: get, start-next, describe or update
}

// parseJobsTopic recognizes a request topic; replies, notifications and
// anything else are no request.
func parseJobsTopic(topic string) (jobsRequest, bool) {
	rest, ok := strings.CutPrefix(topic, "$aws/things/")
	if !ok {
		return jobsRequest{}, false
	}
	levels := strings.Split(rest, "/")
	if len(levels) < 3 || levels[1] != "jobs" || levels[0] == "" {
		return jobsRequest{}, false
	}
	switch {
	case len(levels) == 3 && (levels[2] == "get" || levels[2] == "start-next"):
		return jobsRequest{thing: levels[0], op: levels[2]}, true
	case len(levels) == 4 && levels[3] == "get" && levels[2] != "":
		return jobsRequest{thing: levels[0], jobID: levels[2], op: "describe"}, true
	case len(levels) == 4 && levels[3] == "update" && levels[2] != "":
		return jobsRequest{thing: levels[0], jobID: levels[2], op: "update"}, true
	}
	return jobsRequest{}, false
}

// jobsRejection is the ErrorResponse of a refused request.
type jobsRejection struct {
	Code           string                   `json:"code"`
	Message        string                   `json:"message"`
	ClientToken    string                   `json:"clientToken,omitempty"`
	Timestamp      int64                    `json:"timestamp"`
	ExecutionState *iotdm.JobExecutionState `json:"executionState,omitempty"`
}

// jobsRejectionOf maps an operation's error to the MQTT error code; a
// failure of the service (no *iotdm.Error) is InternalError.
func jobsRejectionOf(err error) (rej jobsRejection, internal bool) {
	var e *iotdm.Error
	if !errors.As(err, &e) {
		return jobsRejection{Code: jobsInternalError, Message: msgInternalFailure}, true
	}
	rej.Message = e.Message
	switch e.Code {
	case iotdm.ErrResourceNotFound:
		rej.Code = jobsResourceNotFound
	case iotdm.ErrInvalidStateTransition:
		rej.Code = jobsInvalidStateTransition
	case iotdm.ErrVersionConflict:
		rej.Code = jobsVersionMismatch
	case iotdm.ErrThrottling:
		rej.Code = jobsRequestThrottled
	case iotdm.ErrInvalidRequest, iotdm.ErrValidation:
		rej.Code = jobsInvalidRequest
	default:
		return jobsRejection{Code: jobsInternalError, Message: msgInternalFailure}, true
	}
	var ve *jobVersionError
	if errors.As(err, &ve) {
		rej.ExecutionState = ve.state
	}
	return rej, false
}

// HandleMQTT serves one message a device published under JobsTopicFilter
// (see the file comment); any other topic is ignored. A refused request is
// answered on …/rejected and is not an error of HandleMQTT, which returns
// only the service's own failures (also answered, InternalError) and the
// publisher's. clientID names the publisher in errors.
//
// Requests of one thing are served one at a time, in order.
func (j *Jobs) HandleMQTT(ctx context.Context, topic string, payload []byte, clientID string) error {
	req, ok := parseJobsTopic(topic)
	if !ok {
		return nil
	}
	pub := j.pub.get()
	if pub == nil {
		return fmt.Errorf("jobs request %q from %q: no publisher", topic, clientID)
	}
	unlock := j.order.lock(req.thing)
	defer unlock()
	var token struct {
		ClientToken string `json:"clientToken"`
	}
	reply, err := func() (any, error) {
		if len(bytes.TrimSpace(payload)) == 0 {
			payload = []byte("{}")
		}
		if !json.Valid(payload) {
			return nil, errJobsJSON
		}
		_ = json.Unmarshal(payload, &token)
		return j.serveMQTT(ctx, req, payload)
	}()
	now := j.opts.Now()
	var pubErr error
	if err == nil {
		pubErr = pub.Publish(context.WithoutCancel(ctx), topic+"/accepted", acceptedPayload(reply, token.ClientToken, now.Unix()), shadowReplyQoS, false)
	} else {
		var rej jobsRejection
		internal := false
		if errors.Is(err, errJobsJSON) {
			rej = jobsRejection{Code: jobsInvalidJSON, Message: "The request payload is not valid UTF-8 JSON"}
		} else {
			rej, internal = jobsRejectionOf(err)
		}
		rej.ClientToken, rej.Timestamp = token.ClientToken, now.Unix()
		pubErr = pub.Publish(context.WithoutCancel(ctx), topic+"/rejected", encodeShadowMessage(rej), shadowReplyQoS, false)
		if !internal {
			err = nil
		}
	}
	if err = errors.Join(err, pubErr); err != nil {
		return fmt.Errorf("jobs request %q from %q: %w", topic, clientID, err)
	}
	return nil
}

var errJobsJSON = errors.New("invalid JSON")

// decodeRequest decodes a request's members; a member of the wrong type is
// InvalidRequest.
func decodeRequest(payload []byte, v any) error {
	if err := json.Unmarshal(payload, v); err != nil {
		return invalid("Invalid request: %v", err)
	}
	return nil
}

// serveMQTT runs one request and returns its reply's members.
func (j *Jobs) serveMQTT(ctx context.Context, req jobsRequest, payload []byte) (any, error) {
	d := j.Data()
	switch req.op {
	case "get":
		out, err := d.GetPendingJobExecutions(ctx, &iotdm.GetPendingJobExecutionsInput{ThingName: req.thing})
		if err != nil {
			return nil, err
		}
		return out, nil
	case "start-next":
		var in iotdm.StartNextPendingJobExecutionInput
		if err := decodeRequest(payload, &in); err != nil {
			return nil, err
		}
		in.ThingName = req.thing
		out, err := d.StartNextPendingJobExecution(ctx, &in)
		if err != nil {
			return nil, err
		}
		return out, nil
	case "describe":
		var in struct {
			ExecutionNumber    *int64 `json:"executionNumber"`
			IncludeJobDocument *bool  `json:"includeJobDocument"`
		}
		if err := decodeRequest(payload, &in); err != nil {
			return nil, err
		}
		out, err := d.DescribeJobExecution(ctx, &iotdm.DescribeJobExecutionDataInput{
			JobID: req.jobID, ThingName: req.thing, ExecutionNumber: in.ExecutionNumber, IncludeJobDocument: in.IncludeJobDocument})
		if err != nil {
			return nil, err
		}
		return out, nil
	case "update":
		var in iotdm.UpdateJobExecutionInput
		if err := decodeRequest(payload, &in); err != nil {
			return nil, err
		}
		in.JobID, in.ThingName = req.jobID, req.thing
		out, err := d.UpdateJobExecution(ctx, &in)
		if err != nil {
			return nil, err
		}
		return out, nil
	}
	return nil, iotdm.Errorf(iotdm.ErrInvalidRequest, "unknown jobs request %s", req.op)
}

// acceptedPayload adds timestamp and clientToken to a reply's members.
func acceptedPayload(reply any, clientToken string, timestamp int64) []byte {
	m := map[string]any{}
	if b, err := json.Marshal(reply); err == nil {
		_ = json.Unmarshal(b, &m)
	}
	m["timestamp"] = timestamp
	if clientToken != "" {
		m["clientToken"] = clientToken
	}
	return encodeShadowMessage(m)
}
