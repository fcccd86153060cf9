package iotdm

import "context"

// The registry's shapes carry AWS's JSON member names, because they are the
// vocabulary of the product: the wire adapter binds path labels, query
// strings and headers through the uri, query and header tags, and the JSON
// body through the json tags.

// AttributePayload is AWS's AttributePayload: attributes and, on updates, the
// merge flag (with merge, an empty value removes the attribute).
type AttributePayload struct {
	Attributes map[string]string `json:"attributes,omitempty"`
	Merge      bool              `json:"merge,omitempty"`
}

// Tag is one resource tag. AWS capitalises these member names.
type Tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// Thing is a registered device as stored and as DescribeThing shows it.
type Thing struct {
	ThingName        string            `json:"thingName"`
	ThingID          string            `json:"thingId"`
	ThingARN         string            `json:"thingArn"`
	ThingTypeName    string            `json:"thingTypeName,omitempty"`
	Attributes       map[string]string `json:"attributes"`
	Version          int64             `json:"version"`
	BillingGroupName string            `json:"billingGroupName,omitempty"`
	CreationDate     Timestamp         `json:"creationDate"`
	// PreviousThingTypeName is set only on the version whose UpdateThing
	// changed the thing type: the type it had before ("" for none). The
	// registry events (THING_TYPE_ASSOCIATION) read it from the change feed.
	PreviousThingTypeName *string `json:"previousThingTypeName,omitempty"`
}

// ThingTypeProperties is AWS's ThingTypeProperties.
type ThingTypeProperties struct {
	ThingTypeDescription string              `json:"thingTypeDescription,omitempty"`
	SearchableAttributes []string            `json:"searchableAttributes,omitempty"`
	Mqtt5Configuration   *Mqtt5Configuration `json:"mqtt5Configuration,omitempty"`
}

// Mqtt5Configuration is AWS's Mqtt5Configuration of a thing type.
type Mqtt5Configuration struct {
	PropagatingAttributes []PropagatingAttribute `json:"propagatingAttributes,omitempty"`
}

// PropagatingAttribute is one MQTT 5 user property propagated from a thing or
// connection attribute.
type PropagatingAttribute struct {
	UserPropertyKey     string `json:"userPropertyKey,omitempty"`
	ThingAttribute      string `json:"thingAttribute,omitempty"`
	ConnectionAttribute string `json:"connectionAttribute,omitempty"`
}

// ThingTypeMetadata is AWS's ThingTypeMetadata.
type ThingTypeMetadata struct {
	Deprecated      bool       `json:"deprecated"`
	DeprecationDate *Timestamp `json:"deprecationDate,omitempty"`
	CreationDate    Timestamp  `json:"creationDate"`
}

// ThingType is a thing type as stored and described.
type ThingType struct {
	ThingTypeName       string              `json:"thingTypeName"`
	ThingTypeID         string              `json:"thingTypeId"`
	ThingTypeARN        string              `json:"thingTypeArn"`
	ThingTypeProperties ThingTypeProperties `json:"thingTypeProperties"`
	ThingTypeMetadata   ThingTypeMetadata   `json:"thingTypeMetadata"`
	Tags                []Tag               `json:"tags,omitempty"`
	// Version is 1 at creation and grows with each update or
	// (un)deprecation; 0 in types stored before it existed. The registry
	// events tell created from updated by it.
	Version int64 `json:"version,omitempty"`
}

// ThingGroupProperties is AWS's ThingGroupProperties.
type ThingGroupProperties struct {
	ThingGroupDescription string            `json:"thingGroupDescription,omitempty"`
	AttributePayload      *AttributePayload `json:"attributePayload,omitempty"`
}

// GroupNameAndArn is AWS's GroupNameAndArn.
type GroupNameAndArn struct {
	GroupName string `json:"groupName"`
	GroupARN  string `json:"groupArn"`
}

// ThingGroupMetadata is AWS's ThingGroupMetadata.
type ThingGroupMetadata struct {
	ParentGroupName         string            `json:"parentGroupName,omitempty"`
	RootToParentThingGroups []GroupNameAndArn `json:"rootToParentThingGroups,omitempty"`
	CreationDate            Timestamp         `json:"creationDate"`
}

// ThingGroup is a thing group as stored. Dynamic groups (a later issue) carry
// a query; static groups leave those fields empty.
type ThingGroup struct {
	ThingGroupName       string               `json:"thingGroupName"`
	ThingGroupID         string               `json:"thingGroupId"`
	ThingGroupARN        string               `json:"thingGroupArn"`
	Version              int64                `json:"version"`
	ThingGroupProperties ThingGroupProperties `json:"thingGroupProperties"`
	ThingGroupMetadata   ThingGroupMetadata   `json:"thingGroupMetadata"`
	IndexName            string               `json:"indexName,omitempty"`
	QueryString          string               `json:"queryString,omitempty"`
	QueryVersion         string               `json:"queryVersion,omitempty"`
	Status               string               `json:"status,omitempty"`
	Tags                 []Tag                `json:"tags,omitempty"`
}

// Dynamic reports whether the group's membership follows a fleet query.
func (g *ThingGroup) Dynamic() bool { return g.QueryString != "" }

// Membership is one thing's membership of one group, stored under both
// KindGroupMember and KindThingMembership.
type Membership struct {
	ThingGroupName string    `json:"thingGroupName"`
	ThingName      string    `json:"thingName"`
	Dynamic        bool      `json:"dynamic,omitempty"`
	AddedAt        Timestamp `json:"addedAt"`
}

// --- operation shapes ---

type CreateThingInput struct {
	ThingName        string            `json:"-" uri:"thingName"`
	ThingTypeName    string            `json:"thingTypeName,omitempty"`
	AttributePayload *AttributePayload `json:"attributePayload,omitempty"`
	BillingGroupName string            `json:"billingGroupName,omitempty"`
}

type CreateThingOutput struct {
	ThingName string `json:"thingName"`
	ThingARN  string `json:"thingArn"`
	ThingID   string `json:"thingId"`
}

type DescribeThingInput struct {
	ThingName string `json:"-" uri:"thingName"`
}

type DescribeThingOutput struct {
	DefaultClientID  string            `json:"defaultClientId"`
	ThingName        string            `json:"thingName"`
	ThingID          string            `json:"thingId"`
	ThingARN         string            `json:"thingArn"`
	ThingTypeName    string            `json:"thingTypeName,omitempty"`
	Attributes       map[string]string `json:"attributes"`
	Version          int64             `json:"version"`
	BillingGroupName string            `json:"billingGroupName,omitempty"`
}

type UpdateThingInput struct {
	ThingName        string            `json:"-" uri:"thingName"`
	ThingTypeName    string            `json:"thingTypeName,omitempty"`
	AttributePayload *AttributePayload `json:"attributePayload,omitempty"`
	ExpectedVersion  *int64            `json:"expectedVersion,omitempty"`
	RemoveThingType  bool              `json:"removeThingType,omitempty"`
}

type DeleteThingInput struct {
	ThingName       string `json:"-" uri:"thingName"`
	ExpectedVersion *int64 `json:"-" query:"expectedVersion"`
}

type ListThingsInput struct {
	NextToken               string `json:"-" query:"nextToken"`
	MaxResults              int    `json:"-" query:"maxResults"`
	AttributeName           string `json:"-" query:"attributeName"`
	AttributeValue          string `json:"-" query:"attributeValue"`
	ThingTypeName           string `json:"-" query:"thingTypeName"`
	UsePrefixAttributeValue bool   `json:"-" query:"usePrefixAttributeValue"`
}

// ThingAttribute is the list item of ListThings.
type ThingAttribute struct {
	ThingName     string            `json:"thingName"`
	ThingTypeName string            `json:"thingTypeName,omitempty"`
	ThingARN      string            `json:"thingArn"`
	Attributes    map[string]string `json:"attributes"`
	Version       int64             `json:"version"`
}

type ListThingsOutput struct {
	Things    []ThingAttribute `json:"things"`
	NextToken string           `json:"nextToken,omitempty"`
}

type CreateThingTypeInput struct {
	ThingTypeName       string               `json:"-" uri:"thingTypeName"`
	ThingTypeProperties *ThingTypeProperties `json:"thingTypeProperties,omitempty"`
	Tags                []Tag                `json:"tags,omitempty"`
}

type CreateThingTypeOutput struct {
	ThingTypeName string `json:"thingTypeName"`
	ThingTypeARN  string `json:"thingTypeArn"`
	ThingTypeID   string `json:"thingTypeId"`
}

type DescribeThingTypeInput struct {
	ThingTypeName string `json:"-" uri:"thingTypeName"`
}

type DescribeThingTypeOutput struct {
	ThingTypeName       string              `json:"thingTypeName"`
	ThingTypeID         string              `json:"thingTypeId"`
	ThingTypeARN        string              `json:"thingTypeArn"`
	ThingTypeProperties ThingTypeProperties `json:"thingTypeProperties"`
	ThingTypeMetadata   ThingTypeMetadata   `json:"thingTypeMetadata"`
}

type UpdateThingTypeInput struct {
	ThingTypeName       string               `json:"-" uri:"thingTypeName"`
	ThingTypeProperties *ThingTypeProperties `json:"thingTypeProperties,omitempty"`
}

type DeprecateThingTypeInput struct {
	ThingTypeName string `json:"-" uri:"thingTypeName"`
	UndoDeprecate bool   `json:"undoDeprecate,omitempty"`
}

type DeleteThingTypeInput struct {
	ThingTypeName string `json:"-" uri:"thingTypeName"`
}

type ListThingTypesInput struct {
	NextToken     string `json:"-" query:"nextToken"`
	MaxResults    int    `json:"-" query:"maxResults"`
	ThingTypeName string `json:"-" query:"thingTypeName"`
}

// ThingTypeDefinition is the list item of ListThingTypes.
type ThingTypeDefinition struct {
	ThingTypeName       string              `json:"thingTypeName"`
	ThingTypeARN        string              `json:"thingTypeArn"`
	ThingTypeProperties ThingTypeProperties `json:"thingTypeProperties"`
	ThingTypeMetadata   ThingTypeMetadata   `json:"thingTypeMetadata"`
}

type ListThingTypesOutput struct {
	ThingTypes []ThingTypeDefinition `json:"thingTypes"`
	NextToken  string                `json:"nextToken,omitempty"`
}

type CreateThingGroupInput struct {
	ThingGroupName       string                `json:"-" uri:"thingGroupName"`
	ParentGroupName      string                `json:"parentGroupName,omitempty"`
	ThingGroupProperties *ThingGroupProperties `json:"thingGroupProperties,omitempty"`
	Tags                 []Tag                 `json:"tags,omitempty"`
}

type CreateThingGroupOutput struct {
	ThingGroupName string `json:"thingGroupName"`
	ThingGroupARN  string `json:"thingGroupArn"`
	ThingGroupID   string `json:"thingGroupId"`
}

type DescribeThingGroupInput struct {
	ThingGroupName string `json:"-" uri:"thingGroupName"`
}

type DescribeThingGroupOutput struct {
	ThingGroupName       string               `json:"thingGroupName"`
	ThingGroupID         string               `json:"thingGroupId"`
	ThingGroupARN        string               `json:"thingGroupArn"`
	Version              int64                `json:"version"`
	ThingGroupProperties ThingGroupProperties `json:"thingGroupProperties"`
	ThingGroupMetadata   ThingGroupMetadata   `json:"thingGroupMetadata"`
	IndexName            string               `json:"indexName,omitempty"`
	QueryString          string               `json:"queryString,omitempty"`
	QueryVersion         string               `json:"queryVersion,omitempty"`
	Status               string               `json:"status,omitempty"`
}

type UpdateThingGroupInput struct {
	ThingGroupName       string                `json:"-" uri:"thingGroupName"`
	ThingGroupProperties *ThingGroupProperties `json:"thingGroupProperties,omitempty"`
	ExpectedVersion      *int64                `json:"expectedVersion,omitempty"`
}

type UpdateThingGroupOutput struct {
	Version int64 `json:"version"`
}

type DeleteThingGroupInput struct {
	ThingGroupName  string `json:"-" uri:"thingGroupName"`
	ExpectedVersion *int64 `json:"-" query:"expectedVersion"`
}

type ListThingGroupsInput struct {
	NextToken        string `json:"-" query:"nextToken"`
	MaxResults       int    `json:"-" query:"maxResults"`
	ParentGroup      string `json:"-" query:"parentGroup"`
	NamePrefixFilter string `json:"-" query:"namePrefixFilter"`
	Recursive        *bool  `json:"-" query:"recursive"`
}

type ListThingGroupsOutput struct {
	ThingGroups []GroupNameAndArn `json:"thingGroups"`
	NextToken   string            `json:"nextToken,omitempty"`
}

type AddThingToThingGroupInput struct {
	ThingGroupName        string `json:"thingGroupName,omitempty"`
	ThingGroupARN         string `json:"thingGroupArn,omitempty"`
	ThingName             string `json:"thingName,omitempty"`
	ThingARN              string `json:"thingArn,omitempty"`
	OverrideDynamicGroups bool   `json:"overrideDynamicGroups,omitempty"`
}

type RemoveThingFromThingGroupInput struct {
	ThingGroupName string `json:"thingGroupName,omitempty"`
	ThingGroupARN  string `json:"thingGroupArn,omitempty"`
	ThingName      string `json:"thingName,omitempty"`
	ThingARN       string `json:"thingArn,omitempty"`
}

type ListThingsInThingGroupInput struct {
	ThingGroupName string `json:"-" uri:"thingGroupName"`
	Recursive      bool   `json:"-" query:"recursive"`
	NextToken      string `json:"-" query:"nextToken"`
	MaxResults     int    `json:"-" query:"maxResults"`
}

type ListThingsInThingGroupOutput struct {
	Things    []string `json:"things"`
	NextToken string   `json:"nextToken,omitempty"`
}

type ListThingGroupsForThingInput struct {
	ThingName  string `json:"-" uri:"thingName"`
	NextToken  string `json:"-" query:"nextToken"`
	MaxResults int    `json:"-" query:"maxResults"`
}

type ListThingGroupsForThingOutput struct {
	ThingGroups []GroupNameAndArn `json:"thingGroups"`
	NextToken   string            `json:"nextToken,omitempty"`
}

type UpdateThingGroupsForThingInput struct {
	ThingName             string   `json:"thingName,omitempty"`
	ThingGroupsToAdd      []string `json:"thingGroupsToAdd,omitempty"`
	ThingGroupsToRemove   []string `json:"thingGroupsToRemove,omitempty"`
	OverrideDynamicGroups bool     `json:"overrideDynamicGroups,omitempty"`
}

type TagResourceInput struct {
	ResourceARN string `json:"resourceArn"`
	Tags        []Tag  `json:"tags"`
}

type UntagResourceInput struct {
	ResourceARN string   `json:"resourceArn"`
	TagKeys     []string `json:"tagKeys"`
}

type ListTagsForResourceInput struct {
	ResourceARN string `json:"-" query:"resourceArn"`
	NextToken   string `json:"-" query:"nextToken"`
}

type ListTagsForResourceOutput struct {
	Tags      []Tag  `json:"tags"`
	NextToken string `json:"nextToken,omitempty"`
}

type DescribeEndpointInput struct {
	EndpointType string `json:"-" query:"endpointType"`
}

type DescribeEndpointOutput struct {
	EndpointAddress string `json:"endpointAddress"`
}

// Empty is the output of operations whose response has no members.
type Empty struct{}

// Registry is the device registry: things, thing types, static thing groups,
// memberships and tags, with AWS IoT's validation, limits and errors.
type Registry interface {
	CreateThing(ctx context.Context, in *CreateThingInput) (*CreateThingOutput, error)
	DescribeThing(ctx context.Context, in *DescribeThingInput) (*DescribeThingOutput, error)
	UpdateThing(ctx context.Context, in *UpdateThingInput) (*Empty, error)
	DeleteThing(ctx context.Context, in *DeleteThingInput) (*Empty, error)
	ListThings(ctx context.Context, in *ListThingsInput) (*ListThingsOutput, error)

	CreateThingType(ctx context.Context, in *CreateThingTypeInput) (*CreateThingTypeOutput, error)
	DescribeThingType(ctx context.Context, in *DescribeThingTypeInput) (*DescribeThingTypeOutput, error)
	UpdateThingType(ctx context.Context, in *UpdateThingTypeInput) (*Empty, error)
	DeprecateThingType(ctx context.Context, in *DeprecateThingTypeInput) (*Empty, error)
	DeleteThingType(ctx context.Context, in *DeleteThingTypeInput) (*Empty, error)
	ListThingTypes(ctx context.Context, in *ListThingTypesInput) (*ListThingTypesOutput, error)

	CreateThingGroup(ctx context.Context, in *CreateThingGroupInput) (*CreateThingGroupOutput, error)
	DescribeThingGroup(ctx context.Context, in *DescribeThingGroupInput) (*DescribeThingGroupOutput, error)
	UpdateThingGroup(ctx context.Context, in *UpdateThingGroupInput) (*UpdateThingGroupOutput, error)
	DeleteThingGroup(ctx context.Context, in *DeleteThingGroupInput) (*Empty, error)
	ListThingGroups(ctx context.Context, in *ListThingGroupsInput) (*ListThingGroupsOutput, error)
	AddThingToThingGroup(ctx context.Context, in *AddThingToThingGroupInput) (*Empty, error)
	RemoveThingFromThingGroup(ctx context.Context, in *RemoveThingFromThingGroupInput) (*Empty, error)
	ListThingsInThingGroup(ctx context.Context, in *ListThingsInThingGroupInput) (*ListThingsInThingGroupOutput, error)
	ListThingGroupsForThing(ctx context.Context, in *ListThingGroupsForThingInput) (*ListThingGroupsForThingOutput, error)
	UpdateThingGroupsForThing(ctx context.Context, in *UpdateThingGroupsForThingInput) (*Empty, error)

	TagResource(ctx context.Context, in *TagResourceInput) (*Empty, error)
	UntagResource(ctx context.Context, in *UntagResourceInput) (*Empty, error)
	ListTagsForResource(ctx context.Context, in *ListTagsForResourceInput) (*ListTagsForResourceOutput, error)

	DescribeEndpoint(ctx context.Context, in *DescribeEndpointInput) (*DescribeEndpointOutput, error)
}
