// Package stacks holds the CloudFormation templates that ship with iotdm,
// embedded so that the binary deploys them from any directory.
package stacks

import _ "embed"

// SeedName is the stack name of the seed template, as its CDK app named it.
const SeedName = "IoTDeviceManagementStack"

// Seed is iot-device-management.yaml: the IoTDeviceManagementStack that
// iotdm up deploys.
//
//go:embed iot-device-management.yaml
var Seed []byte
