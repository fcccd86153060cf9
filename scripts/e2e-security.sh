#!/usr/bin/env bash
# End-to-end test of certificates and policies with the stock aws CLI: start
# iotdm on a free loopback port, point the CLI at it with `eval "$(iotdm env)"`,
# and walk a device through its security life: keys and a certificate, the seed
# stack's least-privilege device policy, attachments, TestAuthorization, and
# the teardown AWS insists on (deactivate, detach, delete).
# IOTDM_BIN names a built iotdm binary to use instead of building one.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
start_server

# A certificate from the built-in CA, as in the developer guide.
aws iot create-keys-and-certificate --set-as-active \
	--certificate-pem-outfile "$work/device.pem.crt" --private-key-outfile "$work/private.pem.key" \
	--output json >"$work/cert.json"
cert_arn=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["certificateArn"])' "$work/cert.json")
cert_id=${cert_arn##*/}
arn=${cert_arn%%cert/*} # arn:aws:iot:{region}:{account}:
check "create-keys-and-certificate" "ACTIVE" \
	aws iot describe-certificate --certificate-id "$cert_id" --query certificateDescription.status --output text

# The seed stack's least-privilege device policy.
sed "s/arn:aws:iot:us-east-1:123456789012:/${arn}/g" "$root/testdata/seed-device-policy.json" >"$work/device-policy.json"
check "create-policy" "${arn}policy/DevicePolicy 1" \
	aws iot create-policy --policy-name DevicePolicy --policy-document "file://$work/device-policy.json" \
	--query '[policyArn, policyVersionId]' --output text
check_error "create-policy malformed" MalformedPolicyException \
	aws iot create-policy --policy-name Broken --policy-document '{"Version":"2012-10-17","Statement":[]}'
check_error "create-policy existing" ResourceAlreadyExistsException \
	aws iot create-policy --policy-name DevicePolicy --policy-document "file://$work/device-policy.json"
check "get-policy" "1" \
	aws iot get-policy --policy-name DevicePolicy --query defaultVersionId --output text
check "list-policies" "DevicePolicy" \
	aws iot list-policies --query 'policies[].policyName' --output text
check "create-policy-version" "2 False" \
	aws iot create-policy-version --policy-name DevicePolicy --policy-document "file://$work/device-policy.json" \
	--query '[policyVersionId, isDefaultVersion]' --output text
check "list-policy-versions" "2 1" \
	aws iot list-policy-versions --policy-name DevicePolicy --query 'policyVersions[].versionId' --output text
check_error "delete-policy-version default" DeleteConflictException \
	aws iot delete-policy-version --policy-name DevicePolicy --policy-version-id 1
check "delete-policy-version" "1" bash -c '
	aws iot delete-policy-version --policy-name DevicePolicy --policy-version-id 2 &&
	aws iot list-policy-versions --policy-name DevicePolicy --query "policyVersions[].versionId" --output text'

# Attach the policy to the certificate and the certificate to its thing.
check "attach-policy" "DevicePolicy" bash -c "
	aws iot attach-policy --policy-name DevicePolicy --target '$cert_arn' &&
	aws iot list-attached-policies --target '$cert_arn' --query 'policies[].policyName' --output text"
check "list-targets-for-policy" "$cert_arn" \
	aws iot list-targets-for-policy --policy-name DevicePolicy --query targets --output text
check "create-thing" "temp-sensor-01" \
	aws iot create-thing --thing-name temp-sensor-01 --query thingName --output text
check "attach-thing-principal" "$cert_arn" bash -c "
	aws iot attach-thing-principal --thing-name temp-sensor-01 --principal '$cert_arn' &&
	aws iot list-thing-principals --thing-name temp-sensor-01 --query principals --output text"
check "get-effective-policies" "DevicePolicy" \
	aws iot get-effective-policies --principal "$cert_arn" --thing-name temp-sensor-01 \
	--query 'effectivePolicies[].policyName' --output text

# TestAuthorization: the device connects as its own thing name, not as another.
check "test-authorization own client id" "ALLOWED DevicePolicy" \
	aws iot test-authorization --principal "$cert_arn" --client-id temp-sensor-01 \
	--auth-infos "[{\"actionType\":\"CONNECT\",\"resources\":[\"${arn}client/temp-sensor-01\"]}]" \
	--query 'authResults[0].[authDecision, allowed.policies[0].policyName]' --output text
check "test-authorization other client id" "IMPLICIT_DENY DevicePolicy" \
	aws iot test-authorization --principal "$cert_arn" --client-id temp-sensor-02 \
	--auth-infos "[{\"actionType\":\"CONNECT\",\"resources\":[\"${arn}client/temp-sensor-02\"]}]" \
	--query 'authResults[0].[authDecision, denied.implicitDeny.policies[0].policyName]' --output text
check "test-authorization publish own topic" "ALLOWED" \
	aws iot test-authorization --principal "$cert_arn" --client-id temp-sensor-01 \
	--auth-infos "[{\"actionType\":\"PUBLISH\",\"resources\":[\"${arn}topic/devices/temp-sensor-01/telemetry\"]}]" \
	--query 'authResults[0].authDecision' --output text
check "test-authorization publish another's topic" "IMPLICIT_DENY" \
	aws iot test-authorization --principal "$cert_arn" --client-id temp-sensor-01 \
	--auth-infos "[{\"actionType\":\"PUBLISH\",\"resources\":[\"${arn}topic/devices/temp-sensor-02/telemetry\"]}]" \
	--query 'authResults[0].authDecision' --output text

# Teardown: deactivate, then nothing is deleted while still attached.
check "update-certificate INACTIVE" "INACTIVE" bash -c "
	aws iot update-certificate --certificate-id '$cert_id' --new-status INACTIVE &&
	aws iot describe-certificate --certificate-id '$cert_id' --query certificateDescription.status --output text"
check_error "delete-certificate while attached" DeleteConflictException \
	aws iot delete-certificate --certificate-id "$cert_id"
check_error "delete-policy while attached" DeleteConflictException \
	aws iot delete-policy --policy-name DevicePolicy
check "detach-thing-principal" "0" bash -c "
	aws iot detach-thing-principal --thing-name temp-sensor-01 --principal '$cert_arn' &&
	aws iot list-thing-principals --thing-name temp-sensor-01 --query 'length(principals)'"
check "detach-policy" "0" bash -c "
	aws iot detach-policy --policy-name DevicePolicy --target '$cert_arn' &&
	aws iot list-attached-policies --target '$cert_arn' --query 'length(policies)'"
check "delete-certificate" "0" bash -c "
	aws iot delete-certificate --certificate-id '$cert_id' &&
	aws iot list-certificates --query 'length(certificates)'"
check "delete-policy" "0" bash -c '
	aws iot delete-policy --policy-name DevicePolicy &&
	aws iot list-policies --query "length(policies)"'
check_error "get-policy deleted" ResourceNotFoundException \
	aws iot get-policy --policy-name DevicePolicy

finish e2e-security
