package awsapi

import (
	"net/http"

	"github.com/iotdm/iotdm"
)

// FleetMetricsRoutes are the routes of the fleet metrics control plane
// (AWS §8) on the AWS IoT endpoint, with the methods and URI templates of
// the botocore iot model; pass them to NewIoT.
func FleetMetricsRoutes(svc iotdm.FleetMetrics) []Route {
	const (
		get, put, patch, del = http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete
	)
	return []Route{
		Op("CreateFleetMetric", put, "/fleet-metric/{metricName}", svc.CreateFleetMetric),
		Op("DescribeFleetMetric", get, "/fleet-metric/{metricName}", svc.DescribeFleetMetric),
		Op("UpdateFleetMetric", patch, "/fleet-metric/{metricName}", svc.UpdateFleetMetric),
		Op("DeleteFleetMetric", del, "/fleet-metric/{metricName}", svc.DeleteFleetMetric),
		Op("ListFleetMetrics", get, "/fleet-metrics", svc.ListFleetMetrics),
	}
}
