package awsapi

import (
	"net/http"

	"github.com/iotdm/iotdm"
)

// NewIoTData returns the handler of the AWS IoT data plane (iot-data, signing
// name iotdata; hand-written clients sign with iotdevicegateway) for device
// shadows: one route per iotdm.Shadows method, with the method and URI
// template of the botocore iot-data model (2015-05-28). The shadow documents
// travel as raw payloads (payload:"true" fields), not as bound JSON.
//
// The iot-data model agrees with the default status table except for
// ThrottlingException, which it sends as 429.
func NewIoTData(s iotdm.Shadows) http.Handler {
	return NewRestJSON(iotDataRoutes(s), WithStatus(iotdm.ErrThrottling, http.StatusTooManyRequests))
}

// iotDataRoutes is the route table of NewIoTData.
func iotDataRoutes(s iotdm.Shadows) []Route {
	return []Route{
		Op("GetThingShadow", http.MethodGet, "/things/{thingName}/shadow", s.GetThingShadow),
		Op("UpdateThingShadow", http.MethodPost, "/things/{thingName}/shadow", s.UpdateThingShadow),
		Op("DeleteThingShadow", http.MethodDelete, "/things/{thingName}/shadow", s.DeleteThingShadow),
		Op("ListNamedShadowsForThing", http.MethodGet, "/api/things/shadow/ListNamedShadowsForThing/{thingName}", s.ListNamedShadowsForThing),
	}
}
