package iotdm

import "context"

// Fleet index search and aggregations (AWS §2.4, §2.5): SearchIndex and the
// four aggregation operations over the AWS_Things and AWS_ThingGroups
// indices, with the shapes of the botocore iot model.

// Page sizes of SearchIndex (AWS §2.4, §9.4: at most 100 per page).
const (
	DefaultSearchResults = 100
	MaxSearchResults     = 100
)

// ThingConnectivity is AWS's ThingConnectivity of a thing document, present
// only with connectivity STATUS indexing (AWS §2.4).
type ThingConnectivity struct {
	Connected        bool   `json:"connected"`
	Timestamp        *int64 `json:"timestamp,omitempty"` // epoch milliseconds
	DisconnectReason string `json:"disconnectReason,omitempty"`
}

// ThingDocument is AWS's ThingDocument: one thing as SearchIndex returns it.
// Shadow and DeviceDefender are JSON documents carried as strings (the
// model's JsonDocument), as AWS sends them.
type ThingDocument struct {
	ThingName       string             `json:"thingName"`
	ThingID         string             `json:"thingId,omitempty"`
	ThingTypeName   string             `json:"thingTypeName,omitempty"`
	ThingGroupNames []string           `json:"thingGroupNames,omitempty"`
	Attributes      map[string]string  `json:"attributes,omitempty"`
	Shadow          string             `json:"shadow,omitempty"`
	DeviceDefender  string             `json:"deviceDefender,omitempty"`
	Connectivity    *ThingConnectivity `json:"connectivity,omitempty"`
}

// ThingGroupDocument is AWS's ThingGroupDocument: one thing group as
// SearchIndex returns it from AWS_ThingGroups.
type ThingGroupDocument struct {
	ThingGroupName        string            `json:"thingGroupName"`
	ThingGroupID          string            `json:"thingGroupId,omitempty"`
	ThingGroupDescription string            `json:"thingGroupDescription,omitempty"`
	Attributes            map[string]string `json:"attributes,omitempty"`
	ParentGroupNames      []string          `json:"parentGroupNames,omitempty"`
}

type SearchIndexInput struct {
	IndexName    string `json:"indexName,omitempty"` // default AWS_Things
	QueryString  string `json:"queryString"`
	NextToken    string `json:"nextToken,omitempty"`
	MaxResults   int    `json:"maxResults,omitempty"` // 1..MaxSearchResults, default DefaultSearchResults
	QueryVersion string `json:"queryVersion,omitempty"`
}

// SearchIndexOutput holds the documents of the index searched: Things for
// AWS_Things, ThingGroups for AWS_ThingGroups; the other list is nil and
// absent on the wire (AWS §2.4).
type SearchIndexOutput struct {
	NextToken   string               `json:"nextToken,omitempty"`
	Things      []ThingDocument      `json:"things,omitzero"`
	ThingGroups []ThingGroupDocument `json:"thingGroups,omitzero"`
}

// Statistics is AWS's Statistics (AWS §2.5). The numeric members are
// absent when no value was found, for String fields, and when the values
// overflow a double.
type Statistics struct {
	Count        int      `json:"count"`
	Average      *float64 `json:"average,omitempty"`
	Sum          *float64 `json:"sum,omitempty"`
	Minimum      *float64 `json:"minimum,omitempty"`
	Maximum      *float64 `json:"maximum,omitempty"`
	SumOfSquares *float64 `json:"sumOfSquares,omitempty"`
	Variance     *float64 `json:"variance,omitempty"` // population variance
	StdDeviation *float64 `json:"stdDeviation,omitempty"`
}

type GetStatisticsInput struct {
	IndexName        string `json:"indexName,omitempty"`
	QueryString      string `json:"queryString"`
	AggregationField string `json:"aggregationField,omitempty"` // default registry.version
	QueryVersion     string `json:"queryVersion,omitempty"`
}

type GetStatisticsOutput struct {
	Statistics Statistics `json:"statistics"`
}

type GetCardinalityInput struct {
	IndexName        string `json:"indexName,omitempty"`
	QueryString      string `json:"queryString"`
	AggregationField string `json:"aggregationField,omitempty"`
	QueryVersion     string `json:"queryVersion,omitempty"`
}

type GetCardinalityOutput struct {
	Cardinality int `json:"cardinality"`
}

// PercentPair is AWS's PercentPair.
type PercentPair struct {
	Percent float64 `json:"percent"`
	Value   float64 `json:"value"`
}

type GetPercentilesInput struct {
	IndexName        string    `json:"indexName,omitempty"`
	QueryString      string    `json:"queryString"`
	AggregationField string    `json:"aggregationField,omitempty"`
	QueryVersion     string    `json:"queryVersion,omitempty"`
	Percents         []float64 `json:"percents,omitempty"` // each 0..100; default 1, 5, 25, 50, 75, 95, 99
}

type GetPercentilesOutput struct {
	Percentiles []PercentPair `json:"percentiles"`
}

// TermsAggregation is AWS's TermsAggregation.
type TermsAggregation struct {
	MaxBuckets int `json:"maxBuckets,omitempty"` // 1..10000, default 10
}

// BucketsAggregationType is AWS's BucketsAggregationType.
type BucketsAggregationType struct {
	TermsAggregation *TermsAggregation `json:"termsAggregation,omitempty"`
}

// Bucket is AWS's Bucket: a value and the number of things holding it.
type Bucket struct {
	KeyValue string `json:"keyValue"`
	Count    int    `json:"count"`
}

type GetBucketsAggregationInput struct {
	IndexName              string                  `json:"indexName,omitempty"`
	QueryString            string                  `json:"queryString"`
	AggregationField       string                  `json:"aggregationField"`
	QueryVersion           string                  `json:"queryVersion,omitempty"`
	BucketsAggregationType *BucketsAggregationType `json:"bucketsAggregationType,omitempty"`
}

type GetBucketsAggregationOutput struct {
	TotalCount int      `json:"totalCount"`
	Buckets    []Bucket `json:"buckets"`
}

// Search is the fleet index query service (AWS §2.4, §2.5): searches and
// aggregations over the enabled indices. A search sees every write that
// completed before it started.
type Search interface {
	SearchIndex(ctx context.Context, in *SearchIndexInput) (*SearchIndexOutput, error)
	GetStatistics(ctx context.Context, in *GetStatisticsInput) (*GetStatisticsOutput, error)
	GetCardinality(ctx context.Context, in *GetCardinalityInput) (*GetCardinalityOutput, error)
	GetPercentiles(ctx context.Context, in *GetPercentilesInput) (*GetPercentilesOutput, error)
	GetBucketsAggregation(ctx context.Context, in *GetBucketsAggregationInput) (*GetBucketsAggregationOutput, error)
}
