package query

import "strings"

// Index names (AWS §2.1).
const (
	IndexThings      = "AWS_Things"
	IndexThingGroups = "AWS_ThingGroups"
)

// FieldType is the type of an indexed field, as in the AWS Field shape.
type FieldType string

const (
	// Dynamic fields take their type from each value (AWS §2.2): numbers
	// are numeric, everything else is text.
	Dynamic FieldType = ""
	String  FieldType = "String"
	Number  FieldType = "Number"
	Boolean FieldType = "Boolean"
)

// Limits of AWS §2.3 and §9.4, and our own input caps.
const (
	// DefaultMaxTerms is the number of terms a query may hold (AWS §2.3:
	// 12; older docs said 7).
	DefaultMaxTerms = 12
	// MaxLeadingWildcards is how many terms may start with a wildcard.
	MaxLeadingWildcards = 1
	// MaxLeadingWildcardQueryLength caps a query that has a leading wildcard.
	MaxLeadingWildcardQueryLength = 100
	// MaxQueryLength caps the input. AWS documents no cap; ours fits twelve
	// terms on 128-character fields with 800-character attribute values.
	MaxQueryLength = 16 << 10
	// MaxDepth caps nesting of parentheses and NOT, so that recursion stays
	// shallow whatever the input.
	MaxDepth = 32
)

// Options says what index a query runs against and which custom fields it
// declares. The zero value is the AWS_Things index with the default limits.
type Options struct {
	// Index is IndexThings (default when empty) or IndexThingGroups.
	Index string
	// CustomFields are the customFields of the indexing configuration, with
	// their declared types. They must still lie under a valid root; a
	// declared type makes the parser check values (Boolean fields take
	// true/false and no ranges, Number fields take numeric bounds).
	CustomFields map[string]FieldType
	// MaxTerms overrides DefaultMaxTerms when positive.
	MaxTerms int
}

func (o Options) maxTerms() int {
	if o.MaxTerms > 0 {
		return o.MaxTerms
	}
	return DefaultMaxTerms
}

// thingFields are the exact, typed fields of AWS_Things (AWS §2.1 managed
// fields, §2.3 field list).
var thingFields = map[string]FieldType{
	"thingName":                     String,
	"thingId":                       String,
	"thingTypeName":                 String,
	"thingGroupNames":               String,
	"shadow.hasDelta":               Boolean,
	"connectivity.connected":        Boolean,
	"connectivity.timestamp":        Number,
	"connectivity.version":          Number,
	"connectivity.disconnectReason": String,
	"deviceDefender.violationCount": Number,
}

// groupFields are the fields of AWS_ThingGroups (AWS §2.3); description is
// an alias of thingGroupDescription.
var groupFields = map[string]FieldType{
	"thingGroupName":        String,
	"thingGroupId":          String,
	"thingGroupDescription": String,
	"description":           String,
	"parentGroupNames":      String,
}

// notSearchable are managed fields AWS §2.1 says are returned but not
// searchable.
var notSearchable = map[string]bool{
	"registry.version":       true,
	"shadow.version":         true,
	"deviceDefender.version": true,
	"version":                true,
}

// shadowSections are the indexed sections of a shadow (AWS §2.2).
var shadowSections = []string{"reported.", "desired.", "delta.", "metadata."}

// FieldType reports whether name is a searchable field of the index and,
// if so, its type. Field names are case-sensitive (AWS §2.2).
func (o Options) FieldType(name string) (FieldType, bool) {
	if t, ok := o.CustomFields[name]; ok && o.validRoot(name) {
		return t, true
	}
	if o.Index == IndexThingGroups {
		if t, ok := groupFields[name]; ok {
			return t, true
		}
		return Dynamic, hasSuffixAfter(name, "attributes.")
	}
	if t, ok := thingFields[name]; ok {
		return t, true
	}
	return Dynamic, o.validRoot(name)
}

// validRoot reports whether name lies under a root of the AWS_Things index
// that holds dynamic fields (AWS §2.3).
func (o Options) validRoot(name string) bool {
	if notSearchable[name] {
		return false
	}
	if o.Index == IndexThingGroups {
		return hasSuffixAfter(name, "attributes.")
	}
	switch {
	case hasSuffixAfter(name, "attributes."):
		return true
	case hasSuffixAfter(name, "deviceDefender."):
		return true
	case strings.HasPrefix(name, "shadow.name."):
		// shadow.name.<n>.hasDelta or shadow.name.<n>.<section>.<path>.
		rest := name[len("shadow.name."):]
		n, sub, ok := strings.Cut(rest, ".")
		if !ok || n == "" {
			return false
		}
		return sub == "hasDelta" || validSection(sub)
	case strings.HasPrefix(name, "shadow."):
		return validSection(name[len("shadow."):])
	}
	return false
}

func validSection(s string) bool {
	for _, sec := range shadowSections {
		if hasSuffixAfter(s, sec) {
			return true
		}
	}
	return false
}

// hasSuffixAfter reports whether s is prefix followed by a non-empty path
// with no empty segment.
func hasSuffixAfter(s, prefix string) bool {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok || rest == "" {
		return false
	}
	for seg := range strings.SplitSeq(rest, ".") {
		if seg == "" {
			return false
		}
	}
	return true
}
