// Package query implements the AWS IoT fleet indexing query language
// (queryVersion 2017-09-30): a lexer with byte positions, a recursive-descent
// parser into an AST, a canonical printer and Match, the reference evaluator
// of one document.
//
// The contract is §2.2 and §2.3 of shared/reference/aws-iot.md. The package is
// pure: it does no I/O and imports only the standard library. Parse errors are
// *Error values carrying a byte offset; callers map them to
// iotdm.ErrInvalidQuery (InvalidQueryException) at the edge.
//
// The grammar (AWS §2.3, a Lucene classic subset):
//
//	query     := or
//	or        := and ( OR and )*
//	and       := clause ( AND? clause )*      ; a missing operator means AND
//	clause    := ( NOT | '-' ) clause | primary
//	primary   := '(' query ')' | '*' | fieldExpr | value
//	fieldExpr := FIELD ':' ( '*' | value | range | '(' group ')' | cmp value )
//	           | FIELD cmp value
//	cmp       := '>' | '>=' | '<' | '<='
//	range     := ( '[' | '{' ) bound TO bound ( ']' | '}' )
//	bound     := '*' | WORD | PHRASE
//	group     := a query whose clauses are values and ranges of FIELD
//
// Precedence is NOT > AND > OR. Field groups are expanded while parsing, so
// thingName:(tv* AND -plasma) becomes thingName:tv* AND NOT thingName:plasma.
package query
