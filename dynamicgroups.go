package iotdm

import "context"

// Dynamic thing groups (AWS §3) are ThingGroup entities whose QueryString,
// IndexName, QueryVersion and Status are set; their membership is the fleet
// index's business.

// QueryVersion is the only fleet query language version (AWS §2.3).
const QueryVersion = "2017-09-30"

// Dynamic thing group statuses (AWS DynamicGroupStatus).
const (
	DynamicGroupActive     = "ACTIVE"
	DynamicGroupBuilding   = "BUILDING"
	DynamicGroupRebuilding = "REBUILDING"
)

type CreateDynamicThingGroupInput struct {
	ThingGroupName       string                `json:"-" uri:"thingGroupName"`
	ThingGroupProperties *ThingGroupProperties `json:"thingGroupProperties,omitempty"`
	IndexName            string                `json:"indexName,omitempty"`
	QueryString          string                `json:"queryString,omitempty"`
	QueryVersion         string                `json:"queryVersion,omitempty"`
	Tags                 []Tag                 `json:"tags,omitempty"`
}

type CreateDynamicThingGroupOutput struct {
	ThingGroupName string `json:"thingGroupName"`
	ThingGroupARN  string `json:"thingGroupArn"`
	ThingGroupID   string `json:"thingGroupId"`
	IndexName      string `json:"indexName"`
	QueryString    string `json:"queryString"`
	QueryVersion   string `json:"queryVersion"`
}

type UpdateDynamicThingGroupInput struct {
	ThingGroupName       string                `json:"-" uri:"thingGroupName"`
	ThingGroupProperties *ThingGroupProperties `json:"thingGroupProperties,omitempty"`
	ExpectedVersion      *int64                `json:"expectedVersion,omitempty"`
	IndexName            string                `json:"indexName,omitempty"`
	QueryString          string                `json:"queryString,omitempty"`
	QueryVersion         string                `json:"queryVersion,omitempty"`
}

type UpdateDynamicThingGroupOutput struct {
	Version int64 `json:"version"`
}

type DeleteDynamicThingGroupInput struct {
	ThingGroupName  string `json:"-" uri:"thingGroupName"`
	ExpectedVersion *int64 `json:"-" query:"expectedVersion"`
}

// DynamicGroups creates, updates and deletes dynamic thing groups. Reading
// them (DescribeThingGroup, ListThingGroups, ...) and tagging them is the
// Registry's.
type DynamicGroups interface {
	CreateDynamicThingGroup(ctx context.Context, in *CreateDynamicThingGroupInput) (*CreateDynamicThingGroupOutput, error)
	UpdateDynamicThingGroup(ctx context.Context, in *UpdateDynamicThingGroupInput) (*UpdateDynamicThingGroupOutput, error)
	DeleteDynamicThingGroup(ctx context.Context, in *DeleteDynamicThingGroupInput) (*Empty, error)
}
