// Package template implements the CloudFormation template language: Parse
// reads a JSON or YAML template, Validate checks everything that can be
// checked without deploying it, ResolveParameters, EvalConditions and
// CheckRules prepare a deployment, Eval resolves intrinsic functions, and
// References, Dependencies and Order give the order to create resources in.
// The stack engine (internal/stack) builds on it.
//
// The package is pure: it does no I/O. What evaluation needs from outside
// (a resource's Ref and attributes, another stack's exports, a parameter
// store) comes through a Context of callbacks.
//
// # Parsing
//
// A body is JSON when it starts with "{" and parses as JSON; otherwise it is
// YAML. YAML short-form tags (!Ref, !Sub, !GetAtt A.B, !If, …) become the
// long form, so the rest of the package sees one shape: plain Go values
// (map[string]any, []any, string, int64, float64, bool, nil). Unquoted YAML
// dates stay strings (AWSTemplateFormatVersion: 2010-09-09). Parse bounds
// its input: MaxBodySize bytes, MaxDepth levels of nesting and MaxValues
// values with every use of a YAML alias counted again, so a "billion laughs"
// document of nested aliases is refused instead of expanded. Duplicate keys
// are refused.
//
// # Errors
//
// Every function that can fail returns *Errors: every problem found, each
// with a path ("Resources/MyThing/Properties/ThingName"), a line and column
// in the body when known, and CloudFormation's message where it is known
// ("Template format error: Unresolved resource dependencies [X] in the
// Resources block of the template"). The stack engine returns them as
// ValidationError.
//
// # Not implemented
//
// Transforms and macros other than AWS::LanguageExtensions (whose
// Fn::Length, Fn::ToJsonString and Fn::FindInMap DefaultValue are
// supported; Fn::ForEach is not), Fn::ValueOf and Fn::ValueOfAll in Rules,
// and AllowedPattern features RE2 lacks (lookaround, backreferences).
// Resource property schemas are the providers' business, not this
// package's.
package template
