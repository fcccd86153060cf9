package control

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/iotdm/iotdm"
)

// Constraints of the botocore iot (2015-05-28) and iot-jobs-data
// (2017-09-29) models, and the limits AWS documents for jobs.
var (
	jobIDPattern         = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)                         // JobId, JobTemplateId, NamespaceId, ParameterKey
	detailsKeyPattern    = regexp.MustCompile(`^[a-zA-Z0-9:_-]+$`)                        // DetailsKey
	reasonCodePattern    = regexp.MustCompile(`^[\p{Lu}\p{Nd}_]+$`)                       // ReasonCode
	arnPattern           = regexp.MustCompile(`^arn:[!-~]+$`)                             // JobTemplateArn, PackageVersionArn
	jobParameterPattern  = regexp.MustCompile(`\$\{aws:iot:parameter:([a-zA-Z0-9_-]+)\}`) // placeholders of a job document
	executionStatusEnums = strings.Join(iotdm.ExecutionStatuses, ", ")
)

const (
	maxJobIDLen            = 64
	maxJobDocumentLen      = 32768
	maxJobDescriptionLen   = 2028
	maxReasonCodeLen       = 128
	maxTargetARNLen        = 2048
	maxDetailsKeyLen       = 128
	maxDetailsValueLen     = 1024
	maxStatusDetails       = 10
	maxRolloutPerMinute    = 1000
	maxTimeoutMinutes      = 10080 // 7 days
	maxRetries             = 10
	maxParameterValueLen   = 30720
	maxPackageVersionARN   = 1600
	minPresignedExpiresSec = 60
	maxPresignedExpiresSec = 3600
)

func constraint(value any, member, rule string) error {
	return invalid("1 validation error detected: Value '%v' at '%s' failed to satisfy constraint: %s", value, member, rule)
}

func validateJobID(member, id string) error {
	switch {
	case id == "":
		return invalid("%s must not be empty", member)
	case len(id) > maxJobIDLen:
		return constraint(id, member, fmt.Sprintf("Member must have length less than or equal to %d", maxJobIDLen))
	case !jobIDPattern.MatchString(id):
		return constraint(id, member, "Member must satisfy regular expression pattern: [a-zA-Z0-9_-]+")
	}
	return nil
}

// validateFreeText checks a member of pattern [^\p{C}]+ with a length cap;
// "" is an absent member.
func validateFreeText(member, s string, max int) error {
	if s == "" {
		return nil
	}
	if utf8.RuneCountInString(s) > max {
		return constraint(clipValue(s), member, fmt.Sprintf("Member must have length less than or equal to %d", max))
	}
	for _, r := range s {
		if unicode.Is(unicode.C, r) {
			return constraint(clipValue(s), member, `Member must satisfy regular expression pattern: [^\p{C}]+`)
		}
	}
	return nil
}

func clipValue(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

func validateReasonCode(code string) error {
	if code == "" {
		return nil
	}
	if len(code) > maxReasonCodeLen {
		return constraint(code, "reasonCode", fmt.Sprintf("Member must have length less than or equal to %d", maxReasonCodeLen))
	}
	if !reasonCodePattern.MatchString(code) {
		return constraint(code, "reasonCode", `Member must satisfy regular expression pattern: [\p{Upper}\p{Digit}_]+`)
	}
	return nil
}

func validateNamespace(ns string) error {
	if ns != "" && !jobIDPattern.MatchString(ns) {
		return constraint(ns, "namespaceId", "Member must satisfy regular expression pattern: [a-zA-Z0-9_-]+")
	}
	return nil
}

// validateDocument checks a job document: at most 32 KiB of JSON.
func validateDocument(doc string) error {
	if len(doc) > maxJobDocumentLen {
		return constraint("...", "document", fmt.Sprintf("Member must have length less than or equal to %d", maxJobDocumentLen))
	}
	if !json.Valid([]byte(doc)) {
		return invalid("The job document is not a valid JSON document")
	}
	return nil
}

// substituteParameters replaces each ${aws:iot:parameter:name} of doc by
// the parameter's value (JSON-escaped: placeholders stand inside JSON
// strings). A placeholder without a value is refused.
func substituteParameters(doc string, params map[string]string) (string, error) {
	var missing string
	out := jobParameterPattern.ReplaceAllStringFunc(doc, func(m string) string {
		name := jobParameterPattern.FindStringSubmatch(m)[1]
		v, ok := params[name]
		if !ok {
			if missing == "" {
				missing = name
			}
			return m
		}
		b, _ := json.Marshal(v)
		return string(b[1 : len(b)-1])
	})
	if missing != "" {
		return "", invalid("The job document refers to the parameter %s, which documentParameters does not set", missing)
	}
	return out, nil
}

func validateDocumentParameters(params map[string]string) error {
	for k, v := range params {
		if k == "" || len(k) > maxDetailsKeyLen || !jobIDPattern.MatchString(k) {
			return constraint(k, "documentParameters", "Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z0-9_-]+]")
		}
		if v == "" {
			return constraint(v, "documentParameters."+k, "Member must have length greater than or equal to 1")
		}
		if err := validateFreeText("documentParameters."+k, v, maxParameterValueLen); err != nil {
			return err
		}
	}
	return nil
}

// validateStatusDetails checks a DetailsMap: at most 10 pairs, keys
// [a-zA-Z0-9:_-]{1,128}, values of 1 to 1024 characters without control
// characters.
func validateStatusDetails(d map[string]string) error {
	if len(d) > maxStatusDetails {
		return invalid("statusDetails can have at most %d name/value pairs", maxStatusDetails)
	}
	for k, v := range d {
		if k == "" || len(k) > maxDetailsKeyLen || !detailsKeyPattern.MatchString(k) {
			return constraint(k, "statusDetails", "Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z0-9:_-]+]")
		}
		if v == "" {
			return constraint(v, "statusDetails."+k, "Member must have length greater than or equal to 1")
		}
		if err := validateFreeText("statusDetails."+k, v, maxDetailsValueLen); err != nil {
			return err
		}
	}
	return nil
}

// validateStepTimeout checks stepTimeoutInMinutes: 1 to 10080, or -1 to
// clear the step timer.
func validateStepTimeout(step *int64) error {
	if step != nil && *step != -1 && (*step < 1 || *step > maxTimeoutMinutes) {
		return invalid("stepTimeoutInMinutes must be between 1 and %d, or -1; got %d", maxTimeoutMinutes, *step)
	}
	return nil
}

func validateExecutionStatus(member, s string) error {
	if s != "" && !slices.Contains(iotdm.ExecutionStatuses, s) {
		return constraint(s, member, "Member must satisfy enum value set: ["+executionStatusEnums+"]")
	}
	return nil
}

func validatePresigned(p *iotdm.PresignedURLConfig) error {
	if p == nil {
		return nil
	}
	if p.RoleARN != "" && (len(p.RoleARN) < 20 || len(p.RoleARN) > 2048) {
		return constraint(p.RoleARN, "presignedUrlConfig.roleArn", "Member must have length between 20 and 2048")
	}
	if e := p.ExpiresInSec; e != nil && (*e < minPresignedExpiresSec || *e > maxPresignedExpiresSec) {
		return constraint(*e, "presignedUrlConfig.expiresInSec", "Member must have value between 60 and 3600")
	}
	return nil
}

func validateRollout(r *iotdm.JobExecutionsRolloutConfig) error {
	if r == nil {
		return nil
	}
	if m := r.MaximumPerMinute; m != nil && (*m < 1 || *m > maxRolloutPerMinute) {
		return constraint(*m, "jobExecutionsRolloutConfig.maximumPerMinute", fmt.Sprintf("Member must have value between 1 and %d", maxRolloutPerMinute))
	}
	e := r.ExponentialRate
	if e == nil {
		return nil
	}
	if e.BaseRatePerMinute < 1 || e.BaseRatePerMinute > maxRolloutPerMinute {
		return constraint(e.BaseRatePerMinute, "jobExecutionsRolloutConfig.exponentialRate.baseRatePerMinute", "Member must have value between 1 and 1000")
	}
	if e.IncrementFactor < 1.1 || e.IncrementFactor > 5 || math.Round(e.IncrementFactor*10) != e.IncrementFactor*10 {
		return invalid("jobExecutionsRolloutConfig.exponentialRate.incrementFactor must be between 1.1 and 5 with one digit after the decimal point; got %v", e.IncrementFactor)
	}
	c := e.RateIncreaseCriteria
	if (c.NumberOfNotifiedThings == nil) == (c.NumberOfSucceededThings == nil) {
		return invalid("rateIncreaseCriteria must set exactly one of numberOfNotifiedThings and numberOfSucceededThings")
	}
	for _, n := range []*int{c.NumberOfNotifiedThings, c.NumberOfSucceededThings} {
		if n != nil && *n < 1 {
			return constraint(*n, "jobExecutionsRolloutConfig.exponentialRate.rateIncreaseCriteria", "Member must have value greater than or equal to 1")
		}
	}
	return nil
}

func validateAbort(a *iotdm.AbortConfig) error {
	if a == nil {
		return nil
	}
	if len(a.CriteriaList) == 0 {
		return constraint("[]", "abortConfig.criteriaList", "Member must have length greater than or equal to 1")
	}
	seen := map[string]bool{}
	for _, c := range a.CriteriaList {
		switch c.FailureType {
		case iotdm.ExecutionFailed, iotdm.ExecutionRejected, iotdm.ExecutionTimedOut, "ALL":
		default:
			return constraint(c.FailureType, "abortConfig.criteriaList.member.failureType", "Member must satisfy enum value set: [FAILED, REJECTED, TIMED_OUT, ALL]")
		}
		if seen[c.FailureType] {
			return invalid("abortConfig has two criteria of failure type %s", c.FailureType)
		}
		seen[c.FailureType] = true
		if c.Action != "CANCEL" {
			return constraint(c.Action, "abortConfig.criteriaList.member.action", "Member must satisfy enum value set: [CANCEL]")
		}
		if c.ThresholdPercentage <= 0 || c.ThresholdPercentage > 100 || math.Round(c.ThresholdPercentage*100) != c.ThresholdPercentage*100 {
			return invalid("abortConfig thresholdPercentage must be more than 0 and at most 100, with at most two digits after the decimal point; got %v", c.ThresholdPercentage)
		}
		if c.MinNumberOfExecutedThings < 1 {
			return constraint(c.MinNumberOfExecutedThings, "abortConfig.criteriaList.member.minNumberOfExecutedThings", "Member must have value greater than or equal to 1")
		}
	}
	return nil
}

func validateTimeout(t *iotdm.TimeoutConfig) error {
	if t == nil || t.InProgressTimeoutInMinutes == nil {
		return nil
	}
	if m := *t.InProgressTimeoutInMinutes; m < 1 || m > maxTimeoutMinutes {
		return invalid("timeoutConfig.inProgressTimeoutInMinutes must be between 1 and %d; got %d", maxTimeoutMinutes, m)
	}
	return nil
}

func validateRetry(r *iotdm.JobExecutionsRetryConfig) error {
	if r == nil {
		return nil
	}
	if n := len(r.CriteriaList); n < 1 || n > 2 {
		return constraint(n, "jobExecutionsRetryConfig.criteriaList", "Member must have length between 1 and 2")
	}
	seen := map[string]bool{}
	for _, c := range r.CriteriaList {
		switch c.FailureType {
		case iotdm.ExecutionFailed, iotdm.ExecutionTimedOut, "ALL":
		default:
			return constraint(c.FailureType, "jobExecutionsRetryConfig.criteriaList.member.failureType", "Member must satisfy enum value set: [FAILED, TIMED_OUT, ALL]")
		}
		if seen[c.FailureType] || seen["ALL"] || (c.FailureType == "ALL" && len(seen) > 0) {
			return invalid("jobExecutionsRetryConfig: a failure type may appear once, and ALL only alone")
		}
		seen[c.FailureType] = true
		if c.NumberOfRetries < 0 || c.NumberOfRetries > maxRetries {
			return constraint(c.NumberOfRetries, "jobExecutionsRetryConfig.criteriaList.member.numberOfRetries", "Member must have value between 0 and 10")
		}
	}
	return nil
}

// parseJobTime parses a StringDateTime: "YYYY-MM-DDTHH:MM" in UTC (AWS's
// format), or RFC 3339.
func parseJobTime(member, s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, invalid("%s %q is not a date and time of the form YYYY-MM-DDTHH:MM", member, s)
}

// validateScheduling checks a scheduling window against now: the start
// (if any) must not be past, the end must follow the start. AWS also asks
// for 30 minutes between now, the start and the end; iotdm does not, so a
// test can schedule a job for the next minute. Maintenance windows (cron
// expressions) are not supported.
func validateScheduling(s *iotdm.SchedulingConfig, now time.Time) error {
	if s == nil {
		return nil
	}
	if len(s.MaintenanceWindows) > 0 {
		return invalid("schedulingConfig.maintenanceWindows is not supported by this endpoint")
	}
	switch s.EndBehavior {
	case "", iotdm.JobEndStopRollout, iotdm.JobEndCancel, iotdm.JobEndForceCancel:
	default:
		return constraint(s.EndBehavior, "schedulingConfig.endBehavior", "Member must satisfy enum value set: [STOP_ROLLOUT, CANCEL, FORCE_CANCEL]")
	}
	start := now
	if s.StartTime != "" {
		t, err := parseJobTime("schedulingConfig.startTime", s.StartTime)
		if err != nil {
			return err
		}
		if t.Before(now.Truncate(time.Minute)) {
			return invalid("schedulingConfig.startTime %s is in the past", s.StartTime)
		}
		start = t
	}
	if s.EndTime != "" {
		t, err := parseJobTime("schedulingConfig.endTime", s.EndTime)
		if err != nil {
			return err
		}
		if !t.After(start) {
			return invalid("schedulingConfig.endTime %s must be after the start time", s.EndTime)
		}
	}
	return nil
}

func validatePackageVersions(arns []string) error {
	for _, a := range arns {
		if len(a) > maxPackageVersionARN || !arnPattern.MatchString(a) {
			return constraint(a, "destinationPackageVersions", "Member must satisfy regular expression pattern: ^arn:[!-~]+$")
		}
	}
	return nil
}

// validateJobConfig checks the configuration members CreateJob,
// UpdateJob and CreateJobTemplate share.
func validateJobConfig(description string, p *iotdm.PresignedURLConfig, r *iotdm.JobExecutionsRolloutConfig,
	a *iotdm.AbortConfig, t *iotdm.TimeoutConfig, rt *iotdm.JobExecutionsRetryConfig) error {
	for _, err := range []error{
		validateFreeText("description", description, maxJobDescriptionLen),
		validatePresigned(p), validateRollout(r), validateAbort(a), validateTimeout(t), validateRetry(rt),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}
