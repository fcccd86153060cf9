package control

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/iotdm/iotdm"
)

// taggableKinds maps the resource type of an IoT ARN to the entity kind that
// carries its tags. Services that add taggable resources extend it.
var taggableKinds = map[string]string{
	"thingtype":  iotdm.KindThingType,
	"thinggroup": iotdm.KindThingGroup,
}

// resolveTagTarget parses an IoT ARN of this account into the kind and key
// of the entity that holds its tags.
func (r *Registry) resolveTagTarget(arn string) (kind, key string, err error) {
	prefix := "arn:aws:iot:" + r.opts.Region + ":" + r.opts.AccountID + ":"
	rest, ok := strings.CutPrefix(arn, prefix)
	if arn == "" || !strings.HasPrefix(arn, "arn:") {
		return "", "", invalid("Invalid resourceArn: %q", arn)
	}
	if !ok {
		return "", "", notFound("Resource %s does not exist", arn)
	}
	resource, name, ok := strings.Cut(rest, "/")
	if !ok || name == "" {
		return "", "", invalid("Invalid resourceArn: %q", arn)
	}
	kind, ok = taggableKinds[resource]
	if !ok {
		return "", "", invalid("Resource type %s of %s does not support tags", resource, arn)
	}
	return kind, name, nil
}

// readTags loads the raw entity and its tags.
func readTags(ctx context.Context, tx iotdm.ReadTx, kind, key, arn string) (map[string]json.RawMessage, []iotdm.Tag, error) {
	b, ok, err := tx.Get(ctx, kind, key)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, notFound("Resource %s does not exist", arn)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return nil, nil, fmt.Errorf("decode %s %q: %w", kind, key, err)
	}
	var tags []iotdm.Tag
	if raw, ok := fields["tags"]; ok {
		if err := json.Unmarshal(raw, &tags); err != nil {
			return nil, nil, fmt.Errorf("decode tags of %s %q: %w", kind, key, err)
		}
	}
	return fields, tags, nil
}

func writeTags(ctx context.Context, tx iotdm.Tx, kind, key string, fields map[string]json.RawMessage, tags []iotdm.Tag) error {
	if len(tags) == 0 {
		delete(fields, "tags")
	} else {
		raw, err := json.Marshal(tags)
		if err != nil {
			return fmt.Errorf("encode tags: %w", err)
		}
		fields["tags"] = raw
	}
	// Tags are no registry event: the marker tells RegistryEvents to skip
	// this put. Every other write re-encodes the typed entity, dropping it.
	fields[tagWriteMarker] = json.RawMessage("true")
	return put(ctx, tx, kind, key, fields)
}

// TagResource adds or replaces tags on a resource.
func (r *Registry) TagResource(ctx context.Context, in *iotdm.TagResourceInput) (*iotdm.Empty, error) {
	kind, key, err := r.resolveTagTarget(in.ResourceARN)
	if err != nil {
		return nil, err
	}
	if len(in.Tags) == 0 {
		return nil, invalid("tags must not be empty")
	}
	if err := validateTags(in.Tags); err != nil {
		return nil, err
	}
	return r.write(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		fields, tags, err := readTags(ctx, tx, kind, key, in.ResourceARN)
		if err != nil {
			return err
		}
		for _, t := range in.Tags {
			i := slices.IndexFunc(tags, func(old iotdm.Tag) bool { return old.Key == t.Key })
			if i >= 0 {
				tags[i].Value = t.Value
			} else {
				tags = append(tags, t)
			}
		}
		if len(tags) > maxTagsPerResource {
			return iotdm.Errorf(iotdm.ErrLimitExceeded, "A resource can have at most %d tags", maxTagsPerResource)
		}
		return writeTags(ctx, tx, kind, key, fields, tags)
	})
}

// UntagResource removes tags by key; unknown keys are ignored.
func (r *Registry) UntagResource(ctx context.Context, in *iotdm.UntagResourceInput) (*iotdm.Empty, error) {
	kind, key, err := r.resolveTagTarget(in.ResourceARN)
	if err != nil {
		return nil, err
	}
	if len(in.TagKeys) == 0 {
		return nil, invalid("tagKeys must not be empty")
	}
	return r.write(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		fields, tags, err := readTags(ctx, tx, kind, key, in.ResourceARN)
		if err != nil {
			return err
		}
		tags = slices.DeleteFunc(tags, func(t iotdm.Tag) bool { return slices.Contains(in.TagKeys, t.Key) })
		return writeTags(ctx, tx, kind, key, fields, tags)
	})
}

// ListTagsForResource lists a resource's tags (at most 50, so one page).
func (r *Registry) ListTagsForResource(ctx context.Context, in *iotdm.ListTagsForResourceInput) (*iotdm.ListTagsForResourceOutput, error) {
	kind, key, err := r.resolveTagTarget(in.ResourceARN)
	if err != nil {
		return nil, err
	}
	if in.NextToken != "" {
		if _, err := decodeToken("tags", in.NextToken); err != nil {
			return nil, err
		}
	}
	var tags []iotdm.Tag
	err = r.view(ctx, func(ctx context.Context, tx iotdm.ReadTx) error {
		_, tags, err = readTags(ctx, tx, kind, key, in.ResourceARN)
		return err
	})
	if err != nil {
		return nil, err
	}
	if tags == nil {
		tags = []iotdm.Tag{}
	}
	return &iotdm.ListTagsForResourceOutput{Tags: tags}, nil
}

// DescribeEndpoint answers the address devices and data-plane clients use:
// the MQTT listener for iot:Data and iot:Data-ATS (the default), the HTTP
// listener for iot:CredentialProvider and iot:Jobs.
func (r *Registry) DescribeEndpoint(ctx context.Context, in *iotdm.DescribeEndpointInput) (*iotdm.DescribeEndpointOutput, error) {
	switch in.EndpointType {
	case "", "iot:Data", "iot:Data-ATS":
		return &iotdm.DescribeEndpointOutput{EndpointAddress: endpointAddress(r.opts.MQTTEndpoint, "8883")}, nil
	case "iot:CredentialProvider", "iot:Jobs":
		return &iotdm.DescribeEndpointOutput{EndpointAddress: endpointAddress(r.opts.HTTPEndpoint, "443")}, nil
	}
	return nil, invalid("Endpoint type %s is not valid.", in.EndpointType)
}

// endpointAddress drops the port when it is the protocol's standard one, as
// AWS endpoint addresses carry none.
func endpointAddress(hostport, standardPort string) string {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil || port != standardPort {
		return hostport
	}
	return host
}
