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
func NewIoTData(s iotdm.Shadows, more ...[]Route) http.Handler {
	routes := iotDataRoutes(s)
	for _, m := range more {
		routes = append(routes, m...)
	}
	return NewRestJSON(routes, WithStatus(iotdm.ErrThrottling, http.StatusTooManyRequests))
}

// MessagingRoutes are the message routes of the IoT data plane: Publish
// over HTTPS into the broker and the retained-message APIs, with the methods
// and URI templates of the botocore iot-data model; pass them to NewIoTData.
func MessagingRoutes(m iotdm.Messaging) []Route {
	return []Route{
		Op("Publish", http.MethodPost, "/topics/{topic}", m.Publish),
		Op("GetRetainedMessage", http.MethodGet, "/retainedMessage/{topic}", m.GetRetainedMessage),
		Op("ListRetainedMessages", http.MethodGet, "/retainedMessage", m.ListRetainedMessages),
	}
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
