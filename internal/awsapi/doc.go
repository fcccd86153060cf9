// Package awsapi is the AWS wire edge of iotdm. Stock AWS SDKs and the aws
// CLI talk to it through AWS_ENDPOINT_URL.
//
//   - sigv4.go verifies AWS Signature Version 4 header authentication and
//     refuses with AWS's codes and wording; authheader.go parses the
//     Authorization header and canonical.go rebuilds the canonical request.
//   - server.go is the edge: bounded body, verification, routing by the
//     credential scope's signing name, request ID and identity in context.
//   - restjson.go routes a rest-json service's operations by method and
//     escaped path; bind.go fills input structs from labels, query, headers
//     and the JSON body through cached field tables.
//   - errors.go holds the one table from iotdm.ErrorCode to HTTP status and
//     writes AWS JSON errors.
//   - iot.go is the AWS IoT control plane over iotdm.Registry.
package awsapi
