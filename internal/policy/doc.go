// Package policy implements AWS IoT policy documents: Parse validates a
// document, Evaluate decides a request the way TestAuthorization reports it,
// and Compile turns the policies of one connection into a Checker that
// decides each MQTT packet without allocating.
//
// The contract is §4.1–§4.7 of shared/reference/aws-iot.md, with the IAM
// rules it defers to. The package is pure: it does no I/O and imports only
// the standard library. Parse errors are *Error values; callers map them to
// iotdm.ErrMalformedPolicy (MalformedPolicyException) at the edge.
//
// # Documents
//
// A document has a Version ("2012-10-17" or "2008-10-17"; absent means
// 2008-10-17), an optional Id and one or more statements, each with an Effect,
// an Action and a Resource (a string or a list) and an optional Condition.
// Unknown elements, duplicate keys, NotAction, NotResource and Principal are
// refused. The size limit counts characters that are not whitespace.
//
// # Matching
//
// Actions match case-insensitively, resources case-sensitively; in both '*'
// matches any run of characters including '/', '?' exactly one, and
// everything else itself, anchored at both ends. MQTT's '+' and '#' are
// ordinary characters, so a topicfilter/ resource constrains the filters a
// client may subscribe with.
//
// # Variables
//
// Under 2012-10-17, ${...} in a resource or in the value of a string, ARN or
// Bool condition is replaced by its value from the Context: the keys of §4.4
// (iot:ClientId, aws:SourceIp, iot:Connection.Thing.*, iot:Certificate.*)
// and aws:CurrentTime and aws:EpochTime, matched case-insensitively. ${*},
// ${?} and ${$} stand for the literal characters.
// A substituted value is always literal text: a client id of "*" matches
// only "*". A variable that cannot be substituted (absent, an index out of
// range, a value over 1024 characters, a certificate value with one of
// * $ + ? #, or a multi-valued .List key) stays as its literal ${...} text,
// so the statement matches only a resource that spells it out, and its name
// is reported among the missing context values.
//
// # Conditions
//
// Condition keys are variable names without ${}. The IAM operators are
// supported (String*, Numeric*, Date*, Bool, IpAddress, NotIpAddress, Arn*,
// Null), with the IfExists suffix and the ForAnyValue: and ForAllValues:
// qualifiers for multi-valued keys such as
// iot:Certificate.Subject.Organization.List. An absent key fails a positive
// operator and satisfies a negated one, IfExists and ForAllValues; Null tests
// presence alone.
//
// # Evaluation
//
// An explicit Deny wins over any Allow, and no Allow means an implicit deny.
// Evaluate is the plain reference: it matches with a dynamic-programming
// glob over the substituted patterns and records, per policy, what matched.
// Compile does the per-connection work once: conditions depend only on the
// context, so they are evaluated at compile time and only statements whose
// conditions hold are kept, split into deny and allow lists; action patterns
// are compiled when the document is parsed, resource patterns after
// substitution, into literal runs and wildcards with the literal prefix
// hoisted. Checker.Check then only matches globs, with ASCII case folding for
// actions done in the matcher. Tests hold Check to Evaluate.
package policy
