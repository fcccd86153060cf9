#!/usr/bin/env bash
# End-to-end test of stacks, run as the seed CDK app's users work:
# `go run ./cmd/iotdm up` in the background, then, with nothing but
# eval "$(iotdm env)", the provisioning, monitoring and debug commands of the
# seed's documentation (their inputs read from the stack's outputs through
# aws cloudformation describe-stacks), then `iotdm stack deploy --parameters
# env=production`, `aws cloudformation deploy` of a second template, and
# `iotdm stack destroy --force`, which must remove what the stacks created
# and nothing else.
set -euo pipefail

. "$(dirname "$0")/lib.sh"

mkdir -p "$work/bin"
(cd "$root" && go build -o "$work/bin/iotdm" ./cmd/iotdm)
export PATH="$work/bin:$PATH"

# iotdm up, as the README says, from the repository, with its data directory
# (iotdm-data, the default) in the scratch directory; the thing type wait is
# shortened so that destroy does not wait AWS's five minutes.
cd "$work"
(cd "$root" && exec setsid go run ./cmd/iotdm up --data-dir "$work/iotdm-data" --http-addr 127.0.0.1:0 \
	--mqtt-addr 127.0.0.1:0 --thing-type-delete-wait 2s >"$work/up.out" 2>"$work/up.log") &
server_pid=$!
up_cleanup() {
	# go run's child is in the process group setsid made.
	kill -TERM -- -"$server_pid" 2>/dev/null || true
	wait "$server_pid" 2>/dev/null || true
	cleanup
}
trap up_cleanup EXIT
for _ in $(seq 1 600); do
	grep -q "iotdm is up" "$work/up.out" 2>/dev/null && break
	kill -0 "$server_pid" 2>/dev/null || break
	sleep 0.2
done
grep -q "iotdm is up" "$work/up.out" || { echo "iotdm up did not come up"; cat "$work/up.out" "$work/up.log"; exit 1; }
echo "ok   iotdm up deployed the seed stack"

unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL AWS_CONFIG_FILE
eval "$(iotdm env)"

output() {
	aws cloudformation describe-stacks --stack-name IoTDeviceManagementStack \
		--query "Stacks[0].Outputs[?OutputKey==\`$1\`].OutputValue" --output text
}

# Something the stack does not own, which destroy must leave alone.
aws iot create-thing --thing-name not-from-the-stack >/dev/null

check "stack status" CREATE_COMPLETE \
	aws cloudformation describe-stacks --stack-name IoTDeviceManagementStack --query 'Stacks[0].StackStatus' --output text
check "ThingTypeName output" SensorDevice-IoTDeviceManagementStack output ThingTypeName

# Device provisioning, as the seed documents it.
check "create-thing with the type output" new-sensor-01 \
	aws iot create-thing --thing-name "new-sensor-01" --thing-type-name "$(aws cloudformation describe-stacks \
		--stack-name IoTDeviceManagementStack \
		--query 'Stacks[0].Outputs[?OutputKey==`ThingTypeName`].OutputValue' \
		--output text)" --query thingName --output text
check "add-thing-to-thing-group with the group output" "" \
	aws iot add-thing-to-thing-group --thing-name "new-sensor-01" --thing-group-name "$(aws cloudformation describe-stacks \
		--stack-name IoTDeviceManagementStack \
		--query 'Stacks[0].Outputs[?OutputKey==`ThingGroupName`].OutputValue' \
		--output text)"
check "new-sensor-01 in the production group" new-sensor-01 \
	aws iot list-things-in-thing-group --thing-group-name "$(output ThingGroupName)" --query 'things' --output text
cert_arn=$(aws iot create-keys-and-certificate --set-as-active --query 'certificateArn' --output text)
check "attach-policy with the policy output" "" \
	aws iot attach-policy --policy-name "$(aws cloudformation describe-stacks \
		--stack-name IoTDeviceManagementStack \
		--query 'Stacks[0].Outputs[?OutputKey==`IoTPolicyName`].OutputValue' \
		--output text)" --target "$cert_arn"

# Fleet monitoring and the debug commands.
check "describe-fleet-metric" "ConnectedDevices-IoTDeviceManagementStack connectivity.connected:true 300" \
	aws iot describe-fleet-metric --metric-name "ConnectedDevices-IoTDeviceManagementStack" \
	--query '[metricName, queryString, period]' --output text
check "describe-log-groups" "/aws/iot/device-management/IoTDeviceManagementStack 30" \
	aws logs describe-log-groups --log-group-name-prefix "/aws/iot/device-management" \
	--query 'logGroups[].[logGroupName, retentionInDays]' --output text
check "get-policy" device-policy-IoTDeviceManagementStack \
	aws iot get-policy --policy-name "device-policy-IoTDeviceManagementStack" --query policyName --output text
check "list-thing-groups" "FirmwareLatest-IoTDeviceManagementStack FirmwareLegacy-IoTDeviceManagementStack LocationBuildingA-IoTDeviceManagementStack LocationBuildingB-IoTDeviceManagementStack LocationBuildingC-IoTDeviceManagementStack LocationBuildingD-IoTDeviceManagementStack ProductionSensors-IoTDeviceManagementStack" \
	aws iot list-thing-groups --query 'sort(thingGroups[].groupName)' --output text
check "describe-index" "ACTIVE" aws iot describe-index --index-name "AWS_Things" --query indexStatus --output text
check "dynamic group by firmware" "temp-sensor-03 temp-sensor-04" \
	aws iot list-things-in-thing-group --thing-group-name "$(output LatestFirmwareGroupName)" --query 'sort(things)' --output text

# cdk diff / cdk deploy --parameters env=production.
iotdm stack diff --parameters env=production >"$work/diff.out"
check "diff shows the environment change" "yes" \
	sh -c "grep -q '[-]     \"Value\": \"development\"' '$work/diff.out' && grep -q '[+]     \"Value\": \"production\"' '$work/diff.out' && echo yes"
check "diff changes nothing" development \
	aws cloudformation describe-stacks --stack-name IoTDeviceManagementStack \
	--query "Stacks[0].Parameters[?ParameterKey=='env'].ParameterValue" --output text
iotdm stack deploy --parameters env=production --require-approval never >"$work/deploy.out"
check "deploy printed the diff and the progress" "yes" \
	sh -c "grep -q 'Value\": \"production' '$work/deploy.out' && grep -q 'UPDATE_COMPLETE .*IoTDeviceManagementStack' '$work/deploy.out' && echo yes"
check "stack updated" "UPDATE_COMPLETE production" \
	aws cloudformation describe-stacks --stack-name IoTDeviceManagementStack \
	--query "Stacks[0].[StackStatus, Parameters[?ParameterKey=='env'].ParameterValue | [0]]" --output text
check "group tagged production" production \
	aws iot list-tags-for-resource --resource-arn "$(aws iot describe-thing-group --thing-group-name "$(output ThingGroupName)" --query thingGroupArn --output text)" \
	--query "tags[?Key=='Environment'].Value" --output text
check "deploying again changes nothing" "yes" \
	sh -c "iotdm stack deploy --parameters env=production | grep -q 'no changes' && echo yes"

# A security-relevant change (the device policy's document) is not applied
# without approval, and there is no terminal to give it on.
# (every device may publish to every device's topics).
sed 's|topic/devices/${!iot:Connection.Thing.ThingName}/\*|topic/devices/*|' "$root/stacks/iot-device-management.yaml" >"$work/broader.yaml"
cmp -s "$root/stacks/iot-device-management.yaml" "$work/broader.yaml" && { echo "FAIL the broader policy is the same"; exit 1; }
if iotdm stack deploy -f "$work/broader.yaml" --parameters env=production </dev/null >"$work/broader.out" 2>&1; then
	echo "FAIL security change deployed without approval"; failed=$((failed + 1))
else
	check "security change called out, not applied" "yes" \
		sh -c "grep -q 'Security changes' '$work/broader.out' && grep -q 'needs approval' '$work/broader.out' && echo yes || cat '$work/broader.out'"
fi
check "policy unchanged" 1 aws iot get-policy --policy-name device-policy-IoTDeviceManagementStack --query defaultVersionId --output text

# A second stack through the stock CLI's deploy command and its waiters.
cat >"$work/extra.yaml" <<'YAML'
Resources:
  Gateway:
    Type: AWS::IoT::Thing
    Properties:
      ThingName: gateway-01
      AttributePayload:
        Attributes: {location: Building-A}
Outputs:
  GatewayArn:
    Value: !GetAtt Gateway.Arn
YAML
check "aws cloudformation deploy" "" sh -c "aws cloudformation deploy --template-file '$work/extra.yaml' --stack-name ExtraStack >/dev/null"
check "the deployed thing" Building-A aws iot describe-thing --thing-name gateway-01 --query attributes.location --output text
check "aws cloudformation delete-stack and its waiter" "" \
	sh -c "aws cloudformation delete-stack --stack-name ExtraStack && aws cloudformation wait stack-delete-complete --stack-name ExtraStack"

# The same stack written as a CDK app in Go, synthesized by the CDK CLI and
# deployed next to the seed (its sample things are prefixed cdk-).
run_script examples/cdk-go/test.sh env IOTDM=iotdm bash "$root/examples/cdk-go/test.sh"

# cdk destroy: refused while the user's certificate holds the stack's policy
# (DELETE_FAILED, exit status 1), then complete once it is detached.
if iotdm stack destroy --force >"$work/destroy1.out" 2>&1; then
	echo "FAIL destroy with the policy attached succeeded"; failed=$((failed + 1))
else
	check "destroy failed on the attached policy" DELETE_FAILED \
		aws cloudformation describe-stacks --stack-name IoTDeviceManagementStack --query 'Stacks[0].StackStatus' --output text
fi
aws iot detach-policy --policy-name device-policy-IoTDeviceManagementStack --target "$cert_arn"
aws iot delete-thing --thing-name new-sensor-01
# (stderr kept apart: the AWS SDK may log a transport warning there)
check "destroy --force" "yes" sh -c "iotdm stack destroy --force 2>'$work/destroy2.err' | grep -q destroyed && echo yes"
check "stack gone" "DELETE_COMPLETE" \
	aws cloudformation list-stacks --query "StackSummaries[?StackName=='IoTDeviceManagementStack'].StackStatus | [0]" --output text
check "only the user's thing is left" not-from-the-stack aws iot list-things --query 'things[].thingName' --output text
check "no thing groups" "" aws iot list-thing-groups --query 'thingGroups[].groupName' --output text
check "no thing types" "" aws iot list-thing-types --query 'thingTypes[].thingTypeName' --output text
check "no policies" "" aws iot list-policies --query 'policies[].policyName' --output text
check "no fleet metrics" "" aws iot list-fleet-metrics --query 'fleetMetrics[].metricName' --output text
check "no log groups" "" aws logs describe-log-groups --query 'logGroups[].logGroupName' --output text
check "the user's certificate is left" ACTIVE \
	aws iot describe-certificate --certificate-id "${cert_arn##*/}" --query certificateDescription.status --output text

finish e2e-stack
