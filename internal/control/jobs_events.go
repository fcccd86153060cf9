package control

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/iotdm/iotdm"
)

// Job events (AWS "Jobs events"): with the JOB event type enabled
// (UpdateEventConfigurations), a job that completes, is canceled or is
// deleted is announced on $aws/events/job/{jobId}/{completed|canceled|deleted};
// with JOB_EXECUTION, an execution that reaches a terminal status or is
// deleted on $aws/events/jobExecution/{jobId}/{succeeded|failed|rejected|
// canceled|timed_out|removed|deleted}. They are rendered in the transaction
// that made the change and published after its commit, while the type is
// enabled (the configuration is read from the store when a transaction has
// events, as RegistryEvents reads it); times are epoch seconds, as in the
// rest of the jobs API.

// jobEvent records a JOB event of operation op (completed, canceled,
// deleted).
func (jt *jobTx) jobEvent(job *iotdm.JobRecord, op string) {
	m := map[string]any{
		"eventType":         "JOB",
		"eventId":           uuid.NewString(),
		"timestamp":         jt.now.Unix(),
		"operation":         op,
		"jobId":             job.JobID,
		"status":            job.Status,
		"targetSelection":   job.TargetSelection,
		"targets":           job.Targets,
		"createdAt":         job.CreatedAt.Unix(),
		"lastUpdatedAt":     job.LastUpdatedAt.Unix(),
		"jobProcessDetails": processDetails(job),
	}
	if job.Description != "" {
		m["description"] = job.Description
	}
	if job.CompletedAt != nil {
		m["completedAt"] = job.CompletedAt.Unix()
	}
	if job.Comment != "" {
		m["comment"] = job.Comment
	}
	if job.ReasonCode != "" {
		m["reasonCode"] = job.ReasonCode
	}
	if op == "canceled" {
		m["forceCanceled"] = job.ForceCanceled
	}
	jt.eff.msgs = append(jt.eff.msgs, jobMessage{
		topic: "$aws/events/job/" + job.JobID + "/" + op, payload: encodeShadowMessage(m), event: iotdm.EventJob})
}

// executionEvent records a JOB_EXECUTION event for the current attempt of
// rec, named after its (terminal) status; deleted names a deletion.
func (jt *jobTx) executionEvent(job *iotdm.JobRecord, rec *iotdm.JobExecutionRecord) {
	jt.executionEventOp(job, rec, strings.ToLower(rec.Status))
}

func (jt *jobTx) executionEventOp(job *iotdm.JobRecord, rec *iotdm.JobExecutionRecord, op string) {
	m := map[string]any{
		"eventType":       "JOB_EXECUTION",
		"eventId":         uuid.NewString(),
		"timestamp":       jt.now.Unix(),
		"operation":       op,
		"jobId":           rec.JobID,
		"thingArn":        jt.j.arn("thing", rec.ThingName),
		"status":          rec.Status,
		"executionNumber": rec.ExecutionNumber,
		"versionNumber":   rec.VersionNumber,
	}
	if len(rec.StatusDetails) > 0 {
		m["statusDetails"] = rec.StatusDetails
	}
	jt.eff.msgs = append(jt.eff.msgs, jobMessage{
		topic: "$aws/events/jobExecution/" + job.JobID + "/" + op, payload: encodeShadowMessage(m), event: iotdm.EventJobExecution})
}

// publish sends committed messages: device notifications always (with a
// publisher), events while their type is enabled. Failures are logged: the
// change is committed and a device reads its state on its next request.
func (j *Jobs) publish(ctx context.Context, msgs []jobMessage) {
	pub := j.pub.get()
	if pub == nil || len(msgs) == 0 {
		return
	}
	var cfg *iotdm.EventConfigurationsState
	cfgRead := false
	ctx = context.WithoutCancel(ctx)
	for _, m := range msgs {
		if m.event != "" {
			if !cfgRead {
				var err error
				if cfg, err = loadEventConfigurations(ctx, j.store); err != nil {
					j.log.Warn("read event configuration", "err", err)
				}
				cfgRead = true
			}
			if !cfg.Enabled(m.event) {
				continue
			}
		}
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := pub.Publish(pctx, m.topic, m.payload, shadowReplyQoS, false)
		cancel()
		if err != nil {
			j.log.Warn("publish job message", "topic", m.topic, "err", err)
		}
	}
}
