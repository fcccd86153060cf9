package awsapi

import (
	"net/http"

	"github.com/iotdm/iotdm"
)

// NewLogsWithEvents returns the handler of CloudWatch Logs (signing name
// logs) over the log group service and the log stream and event service:
// NewLogs' operations and LogEventsOps, on one awsJson1_1 endpoint.
func NewLogsWithEvents(groups iotdm.LogGroups, events iotdm.LogEvents) http.Handler {
	return NewJSONRPC(logsTargetPrefix, "1.1", append(logsOps(groups), LogEventsOps(events)...))
}

// LogEventsOps are the operations of the log stream and event service
// (logs 2014-03-28), one per iotdm.LogEvents method.
func LogEventsOps(svc iotdm.LogEvents) []RPCOp {
	return []RPCOp{
		RPC("CreateLogStream", svc.CreateLogStream),
		RPC("DeleteLogStream", svc.DeleteLogStream),
		RPC("DescribeLogStreams", svc.DescribeLogStreams),
		RPC("PutLogEvents", svc.PutLogEvents),
		RPC("GetLogEvents", svc.GetLogEvents),
		RPC("FilterLogEvents", svc.FilterLogEvents),
	}
}
