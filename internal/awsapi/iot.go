package awsapi

import (
	"net/http"

	"github.com/iotdm/iotdm"
)

// NewIoT returns the handler of the AWS IoT control plane (signing name
// iot) for the device registry: one route per iotdm.Registry method, with
// the method and URI template of the botocore iot model (2015-05-28), and
// the routes of further services (IndexingRoutes, SearchRoutes,
// SecurityRoutes) on the same endpoint.
func NewIoT(reg iotdm.Registry, more ...[]Route) http.Handler {
	routes := iotRoutes(reg)
	for _, m := range more {
		routes = append(routes, m...)
	}
	return NewRestJSON(routes)
}

// iotRoutes is the route table of NewIoT.
func iotRoutes(reg iotdm.Registry) []Route {
	const (
		get, post, put, patch, del = http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete
	)
	return []Route{
		Op("CreateThing", post, "/things/{thingName}", reg.CreateThing),
		Op("DescribeThing", get, "/things/{thingName}", reg.DescribeThing),
		Op("UpdateThing", patch, "/things/{thingName}", reg.UpdateThing),
		Op("DeleteThing", del, "/things/{thingName}", reg.DeleteThing),
		Op("ListThings", get, "/things", reg.ListThings),

		Op("CreateThingType", post, "/thing-types/{thingTypeName}", reg.CreateThingType),
		Op("DescribeThingType", get, "/thing-types/{thingTypeName}", reg.DescribeThingType),
		Op("UpdateThingType", patch, "/thing-types/{thingTypeName}", reg.UpdateThingType),
		Op("DeprecateThingType", post, "/thing-types/{thingTypeName}/deprecate", reg.DeprecateThingType),
		Op("DeleteThingType", del, "/thing-types/{thingTypeName}", reg.DeleteThingType),
		Op("ListThingTypes", get, "/thing-types", reg.ListThingTypes),

		Op("CreateThingGroup", post, "/thing-groups/{thingGroupName}", reg.CreateThingGroup),
		Op("DescribeThingGroup", get, "/thing-groups/{thingGroupName}", reg.DescribeThingGroup),
		Op("UpdateThingGroup", patch, "/thing-groups/{thingGroupName}", reg.UpdateThingGroup),
		Op("DeleteThingGroup", del, "/thing-groups/{thingGroupName}", reg.DeleteThingGroup),
		Op("ListThingGroups", get, "/thing-groups", reg.ListThingGroups),
		Op("AddThingToThingGroup", put, "/thing-groups/addThingToThingGroup", reg.AddThingToThingGroup),
		Op("RemoveThingFromThingGroup", put, "/thing-groups/removeThingFromThingGroup", reg.RemoveThingFromThingGroup),
		Op("ListThingsInThingGroup", get, "/thing-groups/{thingGroupName}/things", reg.ListThingsInThingGroup),
		Op("ListThingGroupsForThing", get, "/things/{thingName}/thing-groups", reg.ListThingGroupsForThing),
		Op("UpdateThingGroupsForThing", put, "/thing-groups/updateThingGroupsForThing", reg.UpdateThingGroupsForThing),

		Op("TagResource", post, "/tags", reg.TagResource),
		Op("UntagResource", post, "/untag", reg.UntagResource),
		Op("ListTagsForResource", get, "/tags", reg.ListTagsForResource),

		Op("DescribeEndpoint", get, "/endpoint", reg.DescribeEndpoint),
	}
}
