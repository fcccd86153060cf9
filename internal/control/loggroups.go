package control

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/iotdm/iotdm"
)

// LogGroupsOptions configures a LogGroups.
type LogGroupsOptions struct {
	Region    string // used in ARNs
	AccountID string // 12 digits; used in ARNs
	Logger    *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// LogGroups implements iotdm.LogGroups on an iotdm.Store: CloudWatch Logs
// log groups (logs 2014-03-28), stored as KindLogGroup by name.
type LogGroups struct {
	store iotdm.Store
	opts  LogGroupsOptions
	log   *slog.Logger
}

var _ iotdm.LogGroups = (*LogGroups)(nil)

// NewLogGroups returns a LogGroups over store.
func NewLogGroups(store iotdm.Store, opts LogGroupsOptions) *LogGroups {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &LogGroups{store: store, opts: opts, log: opts.Logger.With("component", "logs")}
}

// Shapes from the botocore logs model (2014-03-28).
var (
	logGroupNamePattern = regexp.MustCompile(`^[\.\-_/#A-Za-z0-9]+$`) // LogGroupName
	logsTagKeyPattern   = regexp.MustCompile(`^([\p{L}\p{Z}\p{N}_.:/=+\-@]+)$`)
	logsTagValuePattern = regexp.MustCompile(`^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`)
	accountIDPattern    = regexp.MustCompile(`^\d{12}$`)
)

const (
	maxLogGroupNameLen    = 512
	maxLogsTags           = 50
	maxLogsTagKeyLen      = 128
	maxLogsTagValueLen    = 256
	maxKmsKeyIDLen        = 256
	defaultDescribeLimit  = 50
	maxDescribeLimit      = 50
	maxLogGroupIdentifier = 50
	maxAccountIdentifiers = 20
	logGroupsList         = "loggroups" // page token tag
)

// logsInvalid is the InvalidParameterException of a request CloudWatch Logs
// refuses; its model-constraint messages read like every AWS validation.
func logsInvalid(format string, args ...any) error {
	return iotdm.Errorf(iotdm.ErrInvalidParameter, format, args...)
}

func logsConstraint(value any, member, constraint string) error {
	v := "null"
	if value != nil {
		v = fmt.Sprintf("'%v'", value)
	}
	return logsInvalid("1 validation error detected: Value %s at '%s' failed to satisfy constraint: %s", v, member, constraint)
}

// logGroupNotFound is AWS's ResourceNotFoundException for a log group.
func logGroupNotFound() error {
	return iotdm.Errorf(iotdm.ErrResourceNotFound, "The specified log group does not exist.")
}

func validateLogGroupName(member, name string) error {
	switch {
	case name == "":
		return logsConstraint(nil, member, "Member must not be null")
	case len(name) > maxLogGroupNameLen:
		return logsConstraint(name, member, "Member must have length less than or equal to 512")
	case !logGroupNamePattern.MatchString(name):
		return logsConstraint(name, member, `Member must satisfy regular expression pattern: [\.\-_/#A-Za-z0-9]+`)
	}
	return nil
}

func validateLogGroupClass(member, class string) error {
	switch class {
	case "", iotdm.LogGroupClassStandard, iotdm.LogGroupClassInfrequentAccess, iotdm.LogGroupClassDelivery:
		return nil
	}
	return logsConstraint(class, member, "Member must satisfy enum value set: [STANDARD, INFREQUENT_ACCESS, DELIVERY]")
}

// validateLogsTags checks a Tags map (1-50 entries when present).
func validateLogsTags(member string, tags map[string]string) error {
	if len(tags) > maxLogsTags {
		return logsConstraint(len(tags), member, "Member must have length less than or equal to 50")
	}
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		v := tags[k]
		if k == "" || len(k) > maxLogsTagKeyLen || !logsTagKeyPattern.MatchString(k) {
			return logsConstraint(k, member+".key", `Member must satisfy regular expression pattern: ^([\p{L}\p{Z}\p{N}_.:/=+\-@]+)$ and have length between 1 and 128`)
		}
		if len(v) > maxLogsTagValueLen || !logsTagValuePattern.MatchString(v) {
			return logsConstraint(v, member+".value", `Member must satisfy regular expression pattern: ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$ and have length less than or equal to 256`)
		}
	}
	return nil
}

// logGroupArn is the ARN of a log group without the trailing ":*" (the
// logGroupArn member, and the resourceArn of the tagging operations).
func (l *LogGroups) logGroupArn(name string) string {
	return "arn:aws:logs:" + l.opts.Region + ":" + l.opts.AccountID + ":log-group:" + name
}

// describe renders a stored log group; short is the reduced form
// DescribeLogGroups answers to logGroupNamePattern.
func (l *LogGroups) describe(g *iotdm.StoredLogGroup, short bool) iotdm.LogGroup {
	out := iotdm.LogGroup{
		LogGroupName: g.LogGroupName,
		CreationTime: g.CreationTime,
		Arn:          l.logGroupArn(g.LogGroupName) + ":*",
	}
	if short {
		return out
	}
	if g.RetentionInDays > 0 {
		out.RetentionInDays = pointerTo(g.RetentionInDays)
	}
	out.MetricFilterCount = pointerTo(g.MetricFilterCount)
	out.StoredBytes = pointerTo(g.StoredBytes)
	out.KmsKeyID = g.KmsKeyID
	out.LogGroupClass = g.LogGroupClass
	out.LogGroupArn = l.logGroupArn(g.LogGroupName)
	out.DeletionProtectionEnabled = pointerTo(g.DeletionProtectionEnabled)
	return out
}

func pointerTo[T any](v T) *T { return &v }

// loadLogGroup reads one log group or fails with ResourceNotFoundException.
func loadLogGroup(ctx context.Context, tx getter, name string) (*iotdm.StoredLogGroup, error) {
	g, ok, err := get[iotdm.StoredLogGroup](ctx, tx, iotdm.KindLogGroup, name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, logGroupNotFound()
	}
	return g, nil
}

// update runs fn on the named log group and stores the result, in one
// transaction.
func (l *LogGroups) update(ctx context.Context, name string, fn func(g *iotdm.StoredLogGroup) error) (*iotdm.Empty, error) {
	err := l.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		g, err := loadLogGroup(ctx, tx, name)
		if err != nil {
			return err
		}
		if err := fn(g); err != nil {
			return err
		}
		return put(ctx, tx, iotdm.KindLogGroup, name, g)
	})
	if err != nil {
		return nil, err
	}
	return &iotdm.Empty{}, nil
}

// CreateLogGroup creates a log group.
// AWS: an existing name is ResourceAlreadyExistsException, even when the
// request is identical.
func (l *LogGroups) CreateLogGroup(ctx context.Context, in *iotdm.CreateLogGroupInput) (*iotdm.Empty, error) {
	if err := validateLogGroupName("logGroupName", in.LogGroupName); err != nil {
		return nil, err
	}
	// AWS: log group names can't start with "aws/" (the CreateLogGroup
	// guidelines); "/aws/..." is the usual service form and allowed.
	if strings.HasPrefix(strings.ToLower(in.LogGroupName), "aws/") {
		return nil, logsInvalid("Log groups starting with AWS/ are reserved for AWS.")
	}
	if len(in.KmsKeyID) > maxKmsKeyIDLen {
		return nil, logsConstraint(in.KmsKeyID, "kmsKeyId", "Member must have length less than or equal to 256")
	}
	if err := validateLogGroupClass("logGroupClass", in.LogGroupClass); err != nil {
		return nil, err
	}
	if in.Tags != nil && len(in.Tags) == 0 {
		return nil, logsConstraint("{}", "tags", "Member must have length greater than or equal to 1")
	}
	if err := validateLogsTags("tags", in.Tags); err != nil {
		return nil, err
	}
	g := iotdm.StoredLogGroup{
		LogGroupName:              in.LogGroupName,
		CreationTime:              l.opts.Now().UnixMilli(),
		LogGroupClass:             cmp.Or(in.LogGroupClass, iotdm.LogGroupClassStandard),
		KmsKeyID:                  in.KmsKeyID,
		DeletionProtectionEnabled: in.DeletionProtectionEnabled,
		Tags:                      maps.Clone(in.Tags),
	}
	err := l.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		_, exists, err := tx.Get(ctx, iotdm.KindLogGroup, in.LogGroupName)
		if err != nil {
			return err
		}
		if exists {
			return iotdm.Errorf(iotdm.ErrResourceAlreadyExists, "The specified log group already exists")
		}
		return put(ctx, tx, iotdm.KindLogGroup, g.LogGroupName, g)
	})
	if err != nil {
		return nil, err
	}
	return &iotdm.Empty{}, nil
}

// DeleteLogGroup deletes a log group (and, once they exist, its streams and
// events). A group with deletion protection is refused.
func (l *LogGroups) DeleteLogGroup(ctx context.Context, in *iotdm.DeleteLogGroupInput) (*iotdm.Empty, error) {
	if err := validateLogGroupName("logGroupName", in.LogGroupName); err != nil {
		return nil, err
	}
	err := l.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		g, err := loadLogGroup(ctx, tx, in.LogGroupName)
		if err != nil {
			return err
		}
		if g.DeletionProtectionEnabled {
			return iotdm.Errorf(iotdm.ErrValidation, "Log group %s has deletion protection enabled; disable it before deleting the log group.", in.LogGroupName)
		}
		return tx.Delete(ctx, iotdm.KindLogGroup, in.LogGroupName)
	})
	if err != nil {
		return nil, err
	}
	return &iotdm.Empty{}, nil
}

// DescribeLogGroups lists log groups in ASCII order of name, filtered by a
// prefix, a case-sensitive substring (logGroupNamePattern, which also
// reduces each entry to logGroupName, creationTime and arn), a class, or a
// list of names and ARNs.
func (l *LogGroups) DescribeLogGroups(ctx context.Context, in *iotdm.DescribeLogGroupsInput) (*iotdm.DescribeLogGroupsOutput, error) {
	size := defaultDescribeLimit
	if in.Limit != nil {
		switch n := *in.Limit; {
		case n < 1:
			return nil, logsConstraint(n, "limit", "Member must have value greater than or equal to 1")
		case n > maxDescribeLimit:
			return nil, logsConstraint(n, "limit", "Member must have value less than or equal to 50")
		default:
			size = int(n)
		}
	}
	if in.LogGroupNamePrefix != "" {
		if err := validateLogGroupName("logGroupNamePrefix", in.LogGroupNamePrefix); err != nil {
			return nil, err
		}
	}
	if p := in.LogGroupNamePattern; p != "" && (len(p) > maxLogGroupNameLen || !logGroupNamePattern.MatchString(p)) {
		return nil, logsConstraint(p, "logGroupNamePattern", `Member must satisfy regular expression pattern: [\.\-_/#A-Za-z0-9]*`)
	}
	if in.LogGroupNamePrefix != "" && in.LogGroupNamePattern != "" {
		return nil, logsInvalid("LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.")
	}
	if err := validateLogGroupClass("logGroupClass", in.LogGroupClass); err != nil {
		return nil, err
	}
	if len(in.AccountIdentifiers) > maxAccountIdentifiers {
		return nil, logsConstraint(len(in.AccountIdentifiers), "accountIdentifiers", "Member must have length less than or equal to 20")
	}
	for _, a := range in.AccountIdentifiers {
		if !accountIDPattern.MatchString(a) {
			return nil, logsConstraint(a, "accountIdentifiers.member", `Member must satisfy regular expression pattern: ^\d{12}$`)
		}
	}
	var only map[string]bool // logGroupIdentifiers, as names
	if in.LogGroupIdentifiers != nil {
		if len(in.LogGroupIdentifiers) == 0 || len(in.LogGroupIdentifiers) > maxLogGroupIdentifier {
			return nil, logsConstraint(len(in.LogGroupIdentifiers), "logGroupIdentifiers", "Member must have length between 1 and 50")
		}
		// AWS: with logGroupIdentifiers the only other filter allowed is
		// includeLinkedAccounts.
		if in.LogGroupNamePrefix != "" || in.LogGroupNamePattern != "" || in.LogGroupClass != "" {
			return nil, logsInvalid("logGroupIdentifiers cannot be combined with logGroupNamePrefix, logGroupNamePattern or logGroupClass.")
		}
		only = make(map[string]bool, len(in.LogGroupIdentifiers))
		for _, id := range in.LogGroupIdentifiers {
			name, err := l.identifierName(id)
			if err != nil {
				return nil, err
			}
			if name != "" {
				only[name] = true
			}
		}
	}
	after, err := decodeToken(logGroupsList, in.NextToken)
	if err != nil {
		return nil, logsInvalid("The specified nextToken is invalid.")
	}
	short := in.LogGroupNamePattern != ""
	p := pager[iotdm.LogGroup]{size: size}
	err = l.store.View(ctx, func(ctx context.Context, tx iotdm.ReadTx, _ uint64) error {
		return scanAfter(ctx, tx, iotdm.KindLogGroup, in.LogGroupNamePrefix, after, func(key string, g *iotdm.StoredLogGroup) error {
			switch {
			case only != nil && !only[key]:
				return nil
			case in.LogGroupNamePattern != "" && !strings.Contains(key, in.LogGroupNamePattern):
				return nil
			case in.LogGroupClass != "" && g.LogGroupClass != in.LogGroupClass:
				return nil
			}
			if !p.add(key, l.describe(g, short)) {
				return iotdm.ErrStopScan
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	out := &iotdm.DescribeLogGroupsOutput{LogGroups: p.page(), NextToken: p.next(logGroupsList)}
	return out, nil
}

// identifierName turns a logGroupIdentifier (a name, or an ARN of this
// account with or without ":*") into a name; "" for an ARN of another
// account or region, which can name no group here.
func (l *LogGroups) identifierName(id string) (string, error) {
	if !strings.HasPrefix(id, "arn:") {
		return id, validateLogGroupName("logGroupIdentifiers.member", id)
	}
	name, ok := strings.CutPrefix(strings.TrimSuffix(id, ":*"), l.logGroupArn(""))
	if !ok {
		if strings.Contains(id, ":log-group:") {
			return "", nil
		}
		return "", logsInvalid("Invalid log group identifier: %s", id)
	}
	return name, validateLogGroupName("logGroupIdentifiers.member", name)
}

// scanAfter scans kind under prefix after key `after`, decoding each value.
func scanAfter[T any](ctx context.Context, tx iotdm.ReadTx, kind, prefix, after string, fn func(key string, v *T) error) error {
	return tx.Scan(ctx, kind, prefix, after, 0, func(key string, value []byte) error {
		v := new(T)
		if err := json.Unmarshal(value, v); err != nil {
			return fmt.Errorf("decode %s %q: %w", kind, key, err)
		}
		return fn(key, v)
	})
}

// PutRetentionPolicy sets how many days events are kept.
func (l *LogGroups) PutRetentionPolicy(ctx context.Context, in *iotdm.PutRetentionPolicyInput) (*iotdm.Empty, error) {
	if err := validateLogGroupName("logGroupName", in.LogGroupName); err != nil {
		return nil, err
	}
	if in.RetentionInDays == nil {
		return nil, logsConstraint(nil, "retentionInDays", "Member must not be null")
	}
	days := *in.RetentionInDays
	if !slices.Contains(iotdm.RetentionDays, days) {
		set := make([]string, len(iotdm.RetentionDays))
		for i, d := range iotdm.RetentionDays {
			set[i] = strconv.Itoa(int(d))
		}
		return nil, logsConstraint(days, "retentionInDays", "Member must satisfy enum value set: ["+strings.Join(set, ", ")+"]")
	}
	return l.update(ctx, in.LogGroupName, func(g *iotdm.StoredLogGroup) error {
		g.RetentionInDays = days
		return nil
	})
}

// DeleteRetentionPolicy makes events never expire.
func (l *LogGroups) DeleteRetentionPolicy(ctx context.Context, in *iotdm.DeleteRetentionPolicyInput) (*iotdm.Empty, error) {
	if err := validateLogGroupName("logGroupName", in.LogGroupName); err != nil {
		return nil, err
	}
	return l.update(ctx, in.LogGroupName, func(g *iotdm.StoredLogGroup) error {
		g.RetentionInDays = 0
		return nil
	})
}

// resourceName resolves a tagging resourceArn to a log group name. The ARN
// is the logGroupArn form; the arn form with ":*" is taken too. ARNs of
// other resources, accounts or regions name nothing here.
func (l *LogGroups) resourceName(arn string) (string, error) {
	switch {
	case arn == "":
		return "", logsConstraint(nil, "resourceArn", "Member must not be null")
	case len(arn) > 1011:
		return "", logsConstraint(arn, "resourceArn", "Member must have length less than or equal to 1011")
	case !strings.HasPrefix(arn, "arn:"):
		return "", logsInvalid("Invalid ARN: %s", arn)
	}
	name, ok := strings.CutPrefix(strings.TrimSuffix(arn, ":*"), l.logGroupArn(""))
	if !ok || validateLogGroupName("resourceArn", name) != nil {
		return "", iotdm.Errorf(iotdm.ErrResourceNotFound, "The specified resource does not exist: %s", arn)
	}
	return name, nil
}

// mergeLogTags merges tags into the group's; too many is tooMany's error.
func mergeLogTags(g *iotdm.StoredLogGroup, tags map[string]string, tooMany func() error) error {
	merged := maps.Clone(g.Tags)
	if merged == nil {
		merged = map[string]string{}
	}
	maps.Copy(merged, tags)
	if len(merged) > maxLogsTags {
		return tooMany()
	}
	g.Tags = merged
	return nil
}

func dropLogTags(g *iotdm.StoredLogGroup, keys []string) {
	for _, k := range keys {
		delete(g.Tags, k)
	}
	if len(g.Tags) == 0 {
		g.Tags = nil
	}
}

func logTagsOf(g *iotdm.StoredLogGroup) map[string]string {
	if g.Tags == nil {
		return map[string]string{}
	}
	return g.Tags
}

// TagResource adds or replaces tags of a log group by its ARN.
func (l *LogGroups) TagResource(ctx context.Context, in *iotdm.LogsTagResourceInput) (*iotdm.Empty, error) {
	name, err := l.resourceName(in.ResourceArn)
	if err != nil {
		return nil, err
	}
	if len(in.Tags) == 0 {
		return nil, logsConstraint(nil, "tags", "Member must have length greater than or equal to 1")
	}
	if err := validateLogsTags("tags", in.Tags); err != nil {
		return nil, err
	}
	return l.update(ctx, name, func(g *iotdm.StoredLogGroup) error {
		return mergeLogTags(g, in.Tags, func() error {
			return &iotdm.Error{Code: iotdm.ErrTooManyTags, Message: "A resource can have no more than 50 tags.", ResourceARN: in.ResourceArn}
		})
	})
}

// UntagResource removes tags by key; unknown keys are ignored.
func (l *LogGroups) UntagResource(ctx context.Context, in *iotdm.LogsUntagResourceInput) (*iotdm.Empty, error) {
	name, err := l.resourceName(in.ResourceArn)
	if err != nil {
		return nil, err
	}
	if in.TagKeys == nil {
		return nil, logsConstraint(nil, "tagKeys", "Member must not be null")
	}
	if len(in.TagKeys) > maxLogsTags {
		return nil, logsConstraint(len(in.TagKeys), "tagKeys", "Member must have length less than or equal to 50")
	}
	return l.update(ctx, name, func(g *iotdm.StoredLogGroup) error {
		dropLogTags(g, in.TagKeys)
		return nil
	})
}

// ListTagsForResource returns a log group's tags by its ARN.
func (l *LogGroups) ListTagsForResource(ctx context.Context, in *iotdm.LogsListTagsForResourceInput) (*iotdm.LogsListTagsForResourceOutput, error) {
	name, err := l.resourceName(in.ResourceArn)
	if err != nil {
		return nil, err
	}
	g, err := loadLogGroup(ctx, l.store, name)
	if err != nil {
		return nil, err
	}
	return &iotdm.LogsListTagsForResourceOutput{Tags: logTagsOf(g)}, nil
}

// TagLogGroup is the deprecated form of TagResource, by name.
func (l *LogGroups) TagLogGroup(ctx context.Context, in *iotdm.TagLogGroupInput) (*iotdm.Empty, error) {
	if err := validateLogGroupName("logGroupName", in.LogGroupName); err != nil {
		return nil, err
	}
	if len(in.Tags) == 0 {
		return nil, logsConstraint(nil, "tags", "Member must have length greater than or equal to 1")
	}
	if err := validateLogsTags("tags", in.Tags); err != nil {
		return nil, err
	}
	return l.update(ctx, in.LogGroupName, func(g *iotdm.StoredLogGroup) error {
		// The deprecated operation declares no TooManyTagsException.
		return mergeLogTags(g, in.Tags, func() error { return logsInvalid("A resource can have no more than 50 tags.") })
	})
}

// UntagLogGroup is the deprecated form of UntagResource, by name.
func (l *LogGroups) UntagLogGroup(ctx context.Context, in *iotdm.UntagLogGroupInput) (*iotdm.Empty, error) {
	if err := validateLogGroupName("logGroupName", in.LogGroupName); err != nil {
		return nil, err
	}
	if len(in.Tags) == 0 {
		return nil, logsConstraint(nil, "tags", "Member must have length greater than or equal to 1")
	}
	return l.update(ctx, in.LogGroupName, func(g *iotdm.StoredLogGroup) error {
		dropLogTags(g, in.Tags)
		return nil
	})
}

// ListTagsLogGroup is the deprecated form of ListTagsForResource, by name.
func (l *LogGroups) ListTagsLogGroup(ctx context.Context, in *iotdm.ListTagsLogGroupInput) (*iotdm.ListTagsLogGroupOutput, error) {
	if err := validateLogGroupName("logGroupName", in.LogGroupName); err != nil {
		return nil, err
	}
	g, err := loadLogGroup(ctx, l.store, in.LogGroupName)
	if err != nil {
		return nil, err
	}
	return &iotdm.ListTagsLogGroupOutput{Tags: logTagsOf(g)}, nil
}
