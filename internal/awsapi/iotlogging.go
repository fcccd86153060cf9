package awsapi

import (
	"net/http"

	"github.com/iotdm/iotdm"
)

// LoggingRoutes are the routes of AWS IoT's v2 logging configuration on the
// AWS IoT endpoint, with the methods and URI templates of the botocore iot
// model; pass them to NewIoT.
func LoggingRoutes(svc iotdm.IoTLogging) []Route {
	const (
		get, post, del = http.MethodGet, http.MethodPost, http.MethodDelete
	)
	return []Route{
		Op("SetV2LoggingOptions", post, "/v2LoggingOptions", svc.SetV2LoggingOptions),
		Op("GetV2LoggingOptions", get, "/v2LoggingOptions", svc.GetV2LoggingOptions),
		Op("SetV2LoggingLevel", post, "/v2LoggingLevel", svc.SetV2LoggingLevel),
		Op("ListV2LoggingLevels", get, "/v2LoggingLevel", svc.ListV2LoggingLevels),
		Op("DeleteV2LoggingLevel", del, "/v2LoggingLevel", svc.DeleteV2LoggingLevel),
	}
}
