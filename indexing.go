package iotdm

import "context"

// Fleet indexing configuration (AWS §2.1). The configuration of the account
// is one entity, KindIndexingConfig/IndexingConfigKey, holding an
// IndexingConfiguration, so that it travels through the change feed like any
// other state: the fleet index follows it to know what to index.

// KindIndexingConfig is the entity kind of the account's fleet indexing
// configuration; its only key is IndexingConfigKey.
const (
	KindIndexingConfig = "indexingconfig"
	IndexingConfigKey  = "account"
)

// Index names (AWS §2.1).
const (
	IndexThings      = "AWS_Things"
	IndexThingGroups = "AWS_ThingGroups"
)

// Indexing modes, as the AWS enums spell them.
const (
	ThingIndexingOff               = "OFF"
	ThingIndexingRegistry          = "REGISTRY"
	ThingIndexingRegistryAndShadow = "REGISTRY_AND_SHADOW"

	ConnectivityIndexingOff    = "OFF"
	ConnectivityIndexingStatus = "STATUS"

	DeviceDefenderIndexingOff        = "OFF"
	DeviceDefenderIndexingViolations = "VIOLATIONS"

	NamedShadowIndexingOff = "OFF"
	NamedShadowIndexingOn  = "ON"

	ThingGroupIndexingOff = "OFF"
	ThingGroupIndexingOn  = "ON"
)

// Field types of AWS's FieldType enum.
const (
	FieldTypeNumber  = "Number"
	FieldTypeString  = "String"
	FieldTypeBoolean = "Boolean"
)

// Index status and schema values of DescribeIndex (AWS §2.1).
const (
	IndexStatusActive = "ACTIVE"

	SchemaRegistry                               = "REGISTRY"
	SchemaRegistryAndShadow                      = "REGISTRY_AND_SHADOW"
	SchemaRegistryAndConnectivityStatus          = "REGISTRY_AND_CONNECTIVITY_STATUS"
	SchemaRegistryAndShadowAndConnectivityStatus = "REGISTRY_AND_SHADOW_AND_CONNECTIVITY_STATUS"
	SchemaMultiIndexingMode                      = "MULTI_INDEXING_MODE"
	SchemaThingGroups                            = "THING_GROUPS"
)

// Field is AWS's Field: an indexed field and its type (Number, String or
// Boolean).
type Field struct {
	Name string `json:"name,omitempty"`
	Type string `json:"type,omitempty"`
}

// GeoLocationTarget is AWS's GeoLocationTarget: a shadow field holding a
// location and the order of its coordinates (LatLon or LonLat).
type GeoLocationTarget struct {
	Name  string `json:"name,omitempty"`
	Order string `json:"order,omitempty"`
}

// IndexingFilter is AWS's IndexingFilter: the named shadows and geolocation
// targets to index.
type IndexingFilter struct {
	NamedShadowNames []string            `json:"namedShadowNames,omitempty"`
	GeoLocations     []GeoLocationTarget `json:"geoLocations,omitempty"`
}

// ThingIndexingConfiguration is AWS's ThingIndexingConfiguration of the
// AWS_Things index. ManagedFields are computed by the server from the modes
// and ignored on input.
type ThingIndexingConfiguration struct {
	ThingIndexingMode             string          `json:"thingIndexingMode"`
	ThingConnectivityIndexingMode string          `json:"thingConnectivityIndexingMode,omitempty"`
	DeviceDefenderIndexingMode    string          `json:"deviceDefenderIndexingMode,omitempty"`
	NamedShadowIndexingMode       string          `json:"namedShadowIndexingMode,omitempty"`
	ManagedFields                 []Field         `json:"managedFields,omitempty"`
	CustomFields                  []Field         `json:"customFields,omitempty"`
	Filter                        *IndexingFilter `json:"filter,omitempty"`
}

// ThingGroupIndexingConfiguration is AWS's ThingGroupIndexingConfiguration of
// the AWS_ThingGroups index.
type ThingGroupIndexingConfiguration struct {
	ThingGroupIndexingMode string  `json:"thingGroupIndexingMode"`
	ManagedFields          []Field `json:"managedFields,omitempty"`
	CustomFields           []Field `json:"customFields,omitempty"`
}

// IndexingConfiguration is the account's fleet indexing configuration as
// stored under KindIndexingConfig and as GetIndexingConfiguration returns
// it: every mode spelled out (absent modes stored as OFF) and the managed
// fields computed.
type IndexingConfiguration struct {
	ThingIndexingConfiguration      ThingIndexingConfiguration      `json:"thingIndexingConfiguration"`
	ThingGroupIndexingConfiguration ThingGroupIndexingConfiguration `json:"thingGroupIndexingConfiguration"`
}

// ThingIndexEnabled reports whether the AWS_Things index exists.
func (c *IndexingConfiguration) ThingIndexEnabled() bool {
	m := c.ThingIndexingConfiguration.ThingIndexingMode
	return m != "" && m != ThingIndexingOff
}

// ThingGroupIndexEnabled reports whether the AWS_ThingGroups index exists.
func (c *IndexingConfiguration) ThingGroupIndexEnabled() bool {
	return c.ThingGroupIndexingConfiguration.ThingGroupIndexingMode == ThingGroupIndexingOn
}

// DefaultIndexingConfiguration is the modes iotdm runs with until
// UpdateIndexingConfiguration is called: things indexed with registry,
// classic shadow and connectivity, thing groups indexed. (AWS starts with
// everything OFF; iotdm's index is cheap, so it starts on.) The service
// adds the managed fields.
func DefaultIndexingConfiguration() IndexingConfiguration {
	return IndexingConfiguration{
		ThingIndexingConfiguration: ThingIndexingConfiguration{
			ThingIndexingMode:             ThingIndexingRegistryAndShadow,
			ThingConnectivityIndexingMode: ConnectivityIndexingStatus,
			DeviceDefenderIndexingMode:    DeviceDefenderIndexingOff,
			NamedShadowIndexingMode:       NamedShadowIndexingOff,
		},
		ThingGroupIndexingConfiguration: ThingGroupIndexingConfiguration{ThingGroupIndexingMode: ThingGroupIndexingOn},
	}
}

// --- operation shapes ---

type UpdateIndexingConfigurationInput struct {
	ThingIndexingConfiguration      *ThingIndexingConfiguration      `json:"thingIndexingConfiguration,omitempty"`
	ThingGroupIndexingConfiguration *ThingGroupIndexingConfiguration `json:"thingGroupIndexingConfiguration,omitempty"`
}

type GetIndexingConfigurationInput struct{}

type GetIndexingConfigurationOutput struct {
	ThingIndexingConfiguration      *ThingIndexingConfiguration      `json:"thingIndexingConfiguration,omitempty"`
	ThingGroupIndexingConfiguration *ThingGroupIndexingConfiguration `json:"thingGroupIndexingConfiguration,omitempty"`
}

type DescribeIndexInput struct {
	IndexName string `json:"-" uri:"indexName"`
}

type DescribeIndexOutput struct {
	IndexName   string `json:"indexName"`
	IndexStatus string `json:"indexStatus"`
	Schema      string `json:"schema"`
}

type ListIndicesInput struct {
	NextToken  string `json:"-" query:"nextToken"`
	MaxResults int    `json:"-" query:"maxResults"`
}

type ListIndicesOutput struct {
	IndexNames []string `json:"indexNames"`
	NextToken  string   `json:"nextToken,omitempty"`
}

// Indexing is the fleet indexing configuration service: which sources the
// AWS_Things and AWS_ThingGroups indices hold, with AWS IoT's validation
// and errors. Searching and aggregating are the fleet index's.
type Indexing interface {
	UpdateIndexingConfiguration(ctx context.Context, in *UpdateIndexingConfigurationInput) (*Empty, error)
	GetIndexingConfiguration(ctx context.Context, in *GetIndexingConfigurationInput) (*GetIndexingConfigurationOutput, error)
	DescribeIndex(ctx context.Context, in *DescribeIndexInput) (*DescribeIndexOutput, error)
	ListIndices(ctx context.Context, in *ListIndicesInput) (*ListIndicesOutput, error)
}
