package awsapi

import (
	"net/http"

	"github.com/iotdm/iotdm"
)

// IndexingRoutes are the routes of the fleet indexing configuration and of
// dynamic thing groups on the AWS IoT control plane, with the methods and
// URI templates of the botocore iot model; pass them to NewIoT.
func IndexingRoutes(ix iotdm.Indexing, dg iotdm.DynamicGroups) []Route {
	const (
		get, post, patch, del = http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete
	)
	return []Route{
		Op("UpdateIndexingConfiguration", post, "/indexing/config", ix.UpdateIndexingConfiguration),
		Op("GetIndexingConfiguration", get, "/indexing/config", ix.GetIndexingConfiguration),
		Op("DescribeIndex", get, "/indices/{indexName}", ix.DescribeIndex),
		Op("ListIndices", get, "/indices", ix.ListIndices),

		Op("CreateDynamicThingGroup", post, "/dynamic-thing-groups/{thingGroupName}", dg.CreateDynamicThingGroup),
		Op("UpdateDynamicThingGroup", patch, "/dynamic-thing-groups/{thingGroupName}", dg.UpdateDynamicThingGroup),
		Op("DeleteDynamicThingGroup", del, "/dynamic-thing-groups/{thingGroupName}", dg.DeleteDynamicThingGroup),
	}
}

// SearchRoutes are the routes of fleet index searches and aggregations
// (AWS §2.4, §2.5), with the methods and URI templates of the botocore iot
// model; pass them to NewIoT.
func SearchRoutes(s iotdm.Search) []Route {
	const post = http.MethodPost
	return []Route{
		Op("SearchIndex", post, "/indices/search", s.SearchIndex),
		Op("GetStatistics", post, "/indices/statistics", s.GetStatistics),
		Op("GetCardinality", post, "/indices/cardinality", s.GetCardinality),
		Op("GetPercentiles", post, "/indices/percentiles", s.GetPercentiles),
		Op("GetBucketsAggregation", post, "/indices/buckets", s.GetBucketsAggregation),
	}
}
