package awsapi

import (
	"net/http"

	"github.com/iotdm/iotdm"
)

// ConnectivityRoutes are the routes of the device connectivity query and of
// the registry event configuration on the AWS IoT control plane (AWS §2.1,
// §7.2), with the methods and URI templates of the botocore iot model; pass
// them to NewIoT.
func ConnectivityRoutes(c iotdm.Connectivity, ec iotdm.EventConfigurations) []Route {
	const get, post, patch = http.MethodGet, http.MethodPost, http.MethodPatch
	return []Route{
		Op("GetThingConnectivityData", post, "/things/{thingName}/connectivity-data", c.GetThingConnectivityData),
		Op("UpdateEventConfigurations", patch, "/event-configurations", ec.UpdateEventConfigurations),
		Op("DescribeEventConfigurations", get, "/event-configurations", ec.DescribeEventConfigurations),
	}
}
