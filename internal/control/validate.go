package control

import (
	"regexp"
	"unicode"

	"github.com/iotdm/iotdm"
)

// Shapes from the botocore iot model (2015-05-28).
var (
	resourceNamePattern   = regexp.MustCompile(`^[a-zA-Z0-9:_-]+$`)           // ThingName, ThingTypeName, ThingGroupName
	attributeNamePattern  = regexp.MustCompile(`^[a-zA-Z0-9_.,@/:#-]+$`)      // AttributeName
	attributeValuePattern = regexp.MustCompile(`^[a-zA-Z0-9_.,@/:#=\[\]-]*$`) // AttributeValue
	tagKeyPattern         = regexp.MustCompile(`^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`)
)

const (
	maxNameLen         = 128
	maxAttrNameLen     = 128
	maxAttrValueLen    = 800
	maxDescriptionLen  = 2028
	maxUntypedAttrs    = 3  // attributes of a thing without a thing type
	maxTypedAttrs      = 50 // attributes of a thing with a thing type, or of a group
	maxSearchableAttrs = 3
	maxGroupsPerThing  = 10
	maxHierarchyDepth  = 7
	maxChildGroups     = 100
	maxTagsPerResource = 50
	maxTagKeyLen       = 128
	maxTagValueLen     = 256
	defaultMaxResults  = 50
	maxRegistryResults = 250
)

func invalid(format string, args ...any) error {
	return iotdm.Errorf(iotdm.ErrInvalidRequest, format, args...)
}

func notFound(format string, args ...any) error {
	return iotdm.Errorf(iotdm.ErrResourceNotFound, format, args...)
}

// validateName checks a thing, thing type or thing group name.
func validateName(member, name string) error {
	if name == "" {
		return invalid("%s must not be empty", member)
	}
	if len(name) > maxNameLen {
		return invalid("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must have length less than or equal to %d", name, member, maxNameLen)
	}
	if !resourceNamePattern.MatchString(name) {
		return invalid("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9:_-]+", name, member)
	}
	return nil
}

// validateOptionalName checks a name that may be absent.
func validateOptionalName(member, name string) error {
	if name == "" {
		return nil
	}
	return validateName(member, name)
}

// validateAttributes checks attribute names and values. Empty values are
// allowed here: on updates they mean "remove".
func validateAttributes(attrs map[string]string) error {
	for k, v := range attrs {
		if k == "" || len(k) > maxAttrNameLen || !attributeNamePattern.MatchString(k) {
			return invalid("Invalid attribute name: %q must match [a-zA-Z0-9_.,@/:#-]+ and be at most %d characters", k, maxAttrNameLen)
		}
		if len(v) > maxAttrValueLen || !attributeValuePattern.MatchString(v) {
			return invalid("Invalid attribute value for %q: must match [a-zA-Z0-9_.,@/:#=\\[\\]-]* and be at most %d characters", k, maxAttrValueLen)
		}
	}
	return nil
}

// validateDescription checks a thing type or group description: at most
// 2028 printable characters.
func validateDescription(member, d string) error {
	if len(d) > maxDescriptionLen {
		return invalid("1 validation error detected: Value at '%s' failed to satisfy constraint: Member must have length less than or equal to %d", member, maxDescriptionLen)
	}
	for _, r := range d {
		printable := r == ' ' || unicode.IsGraphic(r) && !unicode.IsSpace(r) // [\p{Graph}\x20]
		if !printable {
			return invalid("1 validation error detected: Value at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\p{Graph}\\x20]*", member)
		}
	}
	return nil
}

// validateTags checks a tag list.
func validateTags(tags []iotdm.Tag) error {
	if len(tags) > maxTagsPerResource {
		return iotdm.Errorf(iotdm.ErrLimitExceeded, "A resource can have at most %d tags", maxTagsPerResource)
	}
	seen := make(map[string]bool, len(tags))
	for _, t := range tags {
		if t.Key == "" || len(t.Key) > maxTagKeyLen || !tagKeyPattern.MatchString(t.Key) {
			return invalid("Invalid tag key: %q", t.Key)
		}
		if len(t.Value) > maxTagValueLen {
			return invalid("Invalid tag value for key %q: at most %d characters", t.Key, maxTagValueLen)
		}
		if seen[t.Key] {
			return invalid("Duplicate tag key: %q", t.Key)
		}
		seen[t.Key] = true
	}
	return nil
}

// pageSize validates maxResults (RegistryMaxResults 1-250) and applies the
// default.
func pageSize(n int) (int, error) { return pageSizeOf("maxResults", n) }

// pageSizeOf validates a page size member (RegistryMaxResults, or PageSize
// of the marker listings: both 1-250) and applies the default.
func pageSizeOf(member string, n int) (int, error) {
	switch {
	case n == 0:
		return defaultMaxResults, nil
	case n < 1 || n > maxRegistryResults:
		return 0, invalid("1 validation error detected: Value '%d' at '%s' failed to satisfy constraint: Member must have value between 1 and %d", n, member, maxRegistryResults)
	}
	return n, nil
}

// checkVersion refuses an update whose expectedVersion does not match the
// stored version. AWS: VersionConflictException (409).
func checkVersion(what, name string, expected *int64, actual int64) error {
	if expected != nil && *expected != actual {
		return iotdm.Errorf(iotdm.ErrVersionConflict, "The version for %s %s does not match the expected version.", what, name)
	}
	return nil
}
