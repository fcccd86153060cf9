#!/usr/bin/env bash
# The CDK workflow of IoTDeviceManagementStack against iotdm:
#
#   1. go test: the app's assertions (resources, outputs, same as
#      stacks/iot-device-management.yaml);
#   2. npx cdk synth (the aws-cdk CLI pinned in package-lock.json) into
#      cdk.out/IoTDeviceManagementStack.template.json;
#   3. iotdm stack deploy of that template as CdkIoTDeviceManagementStack;
#   4. when the aws CLI points at iotdm (eval "$(iotdm env)"), a check of the
#      deployed stack's outputs and sample things, then its deletion.
#
# Environment:
#   IOTDM              the iotdm command (default: iotdm)
#   STACK_NAME         the deployed stack's name (default: CdkIoTDeviceManagementStack)
#   SAMPLE_THING_PREFIX prefix of the sample things' names (default: cdk-), so
#                      that this copy does not collide with one deployed from
#                      stacks/iot-device-management.yaml on the same server
#   SKIP_DEPLOY=1      stop after synth
#   KEEP_STACK=1       do not delete the stack at the end
set -euo pipefail
cd "$(dirname "$0")"

IOTDM=${IOTDM:-iotdm}
STACK_NAME=${STACK_NAME:-CdkIoTDeviceManagementStack}
PREFIX=${SAMPLE_THING_PREFIX-cdk-}
TEMPLATE=cdk.out/IoTDeviceManagementStack.template.json

for tool in go node npm; do
	command -v "$tool" >/dev/null || { echo "test.sh: $tool is required" >&2; exit 1; }
done

# CDK's Go bindings run jsii in Node.js: quiet its banners about this Node.js
# version (they would be printed on every synth), and keep the CDK CLI from
# sending telemetry.
node_major=$(node -p 'process.versions.node.split(".")[0]')
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=$node_major
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION=1
export CDK_DISABLE_CLI_TELEMETRY=true

step() { printf '\n== %s\n' "$*"; }
elapsed() { printf '   (%ss)\n' "$((SECONDS - $1))"; }

t=$SECONDS
step "go test (CDK assertions)"
go test -count=1 ./...
elapsed "$t"

t=$SECONDS
step "npm ci (aws-cdk CLI)"
npm ci --no-audit --no-fund --loglevel=error
elapsed "$t"

t=$SECONDS
step "cdk synth"
rm -rf cdk.out
npx --no-install cdk synth --quiet --no-notices \
	-c "sampleThingPrefix=$PREFIX" >/dev/null
test -s "$TEMPLATE" || { echo "test.sh: cdk synth wrote no $TEMPLATE" >&2; exit 1; }
elapsed "$t"

if [ "${SKIP_DEPLOY:-}" = 1 ]; then
	echo "SKIP_DEPLOY=1: not deploying"
	exit 0
fi

t=$SECONDS
step "$IOTDM stack deploy --stack-name $STACK_NAME"
# shellcheck disable=SC2086 # IOTDM may be a command with arguments
$IOTDM stack deploy -f "$TEMPLATE" --stack-name "$STACK_NAME" --require-approval never
elapsed "$t"

if ! command -v aws >/dev/null || [ -z "${AWS_ENDPOINT_URL:-}" ]; then
	echo "aws CLI not configured for iotdm (eval \"\$($IOTDM env)\"): not checking the deployed stack"
	exit 0
fi

step "check the deployed stack"
output() {
	aws cloudformation describe-stacks --stack-name "$STACK_NAME" \
		--query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}
fail=0
expect() { # expect WHAT GOT WANT
	if [ "$2" = "$3" ]; then echo "ok   $1 = $2"; else echo "FAIL $1 = '$2', want '$3'"; fail=1; fi
}
expect ThingTypeName "$(output ThingTypeName)" "SensorDevice-$STACK_NAME"
expect ThingGroupName "$(output ThingGroupName)" "ProductionSensors-$STACK_NAME"
expect IoTPolicyName "$(output IoTPolicyName)" "device-policy-$STACK_NAME"
expect ConnectedDevicesMetricName "$(output ConnectedDevicesMetricName)" "ConnectedDevices-$STACK_NAME"
expect LogGroupName "$(output LogGroupName)" "/aws/iot/device-management/$STACK_NAME"
expect "firmware of ${PREFIX}temp-sensor-03" \
	"$(aws iot describe-thing --thing-name "${PREFIX}temp-sensor-03" --query attributes.firmware --output text)" 1.2.0
expect "query of FirmwareLatest-$STACK_NAME" \
	"$(aws iot describe-thing-group --thing-group-name "FirmwareLatest-$STACK_NAME" --query queryString --output text)" \
	attributes.firmware:1.2.0

if [ "${KEEP_STACK:-}" != 1 ]; then
	step "$IOTDM stack destroy --stack-name $STACK_NAME"
	# shellcheck disable=SC2086
	$IOTDM stack destroy --stack-name "$STACK_NAME" --force
fi
[ "$fail" = 0 ] || { echo "test.sh: the deployed stack is not as expected" >&2; exit 1; }
echo "test.sh: ok"
