#!/usr/bin/env bash
# End-to-end test of AWS IoT Jobs with stock tools: the aws CLI rolls a
# firmware job out to a dynamic thing group (the things still on firmware
# 1.0.0); two devices take it over MQTT with mosquitto_rr (Debian's
# mosquitto-clients) — start-next, then update to SUCCEEDED — and report
# their new firmware; the CLI watches the job complete and the things leave
# the group.
# IOTDM_BIN names a built iotdm binary to use instead of building one.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
start_server
command -v mosquitto_rr >/dev/null || { echo "mosquitto_rr is required (Debian package mosquitto-clients)"; exit 1; }

endpoint=$(aws iot describe-endpoint --endpoint-type iot:Data-ATS --query endpointAddress --output text)
host=${endpoint%:*}
port=${endpoint##*:}
[ "$port" = "$endpoint" ] && port=8883

# A device policy for the job topics of the device's own thing.
arn="arn:aws:iot:$AWS_REGION:123456789012" # the server's default account
cat >"$work/jobs-policy.json" <<JSON
{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"iot:Connect","Resource":"$arn:client/\${iot:Connection.Thing.ThingName}"},
 {"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":"$arn:topic/\$aws/things/\${iot:Connection.Thing.ThingName}/jobs/*"},
 {"Effect":"Allow","Action":"iot:Subscribe","Resource":"$arn:topicfilter/\$aws/things/\${iot:Connection.Thing.ThingName}/jobs/*"}]}
JSON
aws iot create-policy --policy-name JobsDevicePolicy --policy-document "file://$work/jobs-policy.json" >/dev/null

for thing in sensor-a sensor-b sensor-c; do
	fw=1.0.0
	[ "$thing" = sensor-c ] && fw=1.2.0
	aws iot create-thing --thing-name "$thing" --attribute-payload "{\"attributes\":{\"firmware\":\"$fw\"}}" >/dev/null
	cert_arn=$(aws iot create-keys-and-certificate --set-as-active \
		--certificate-pem-outfile "$work/$thing.crt" --private-key-outfile "$work/$thing.key" --query certificateArn --output text)
	aws iot attach-policy --policy-name JobsDevicePolicy --target "$cert_arn"
	aws iot attach-thing-principal --thing-name "$thing" --principal "$cert_arn"
done
group_arn=$(aws iot create-dynamic-thing-group --thing-group-name legacy-firmware \
	--query-string 'attributes.firmware:1.0.0' --query thingGroupArn --output text)
check "dynamic group members" "sensor-a sensor-b" \
	aws iot list-things-in-thing-group --thing-group-name legacy-firmware --query 'sort(things)' --output text

check "create-job to the dynamic group" fw-1-2-0 aws iot create-job --job-id fw-1-2-0 --targets "$group_arn" \
	--target-selection SNAPSHOT --document '{"operation":"firmwareUpdate","version":"1.2.0"}' --query jobId --output text
check "describe-job" "IN_PROGRESS 2" aws iot describe-job --job-id fw-1-2-0 \
	--query '[job.status, job.jobProcessDetails.numberOfQueuedThings]' --output text

# Each device: start-next, then report success.
rr() { # rr THING REQUEST-TOPIC-SUFFIX PAYLOAD: request over MQTT, print the accepted reply
	mosquitto_rr --cafile "$data/ca.pem" --cert "$work/$1.crt" --key "$work/$1.key" -h "$host" -p "$port" -i "$1" \
		-t "\$aws/things/$1/jobs/$2" -e "\$aws/things/$1/jobs/$2/accepted" -m "$3" -W 10
}
for thing in sensor-a sensor-b; do
	check "$thing start-next" "fw-1-2-0 IN_PROGRESS 1.2.0" bash -c "$(declare -f rr); host=$host port=$port data=$data work=$work
		rr $thing start-next '{\"clientToken\":\"t1\"}' | python3 -c 'import json,sys; e=json.load(sys.stdin)[\"execution\"]; print(e[\"jobId\"], e[\"status\"], json.loads(e[\"jobDocument\"])[\"version\"])'"
	aws iot update-thing --thing-name "$thing" --attribute-payload '{"attributes":{"firmware":"1.2.0"},"merge":true}'
	check "$thing update SUCCEEDED" "" bash -c "$(declare -f rr); host=$host port=$port data=$data work=$work
		rr $thing fw-1-2-0/update '{\"status\":\"SUCCEEDED\",\"expectedVersion\":2}' >/dev/null"
done

check "job completed" "COMPLETED 2" aws iot describe-job --job-id fw-1-2-0 \
	--query '[job.status, job.jobProcessDetails.numberOfSucceededThings]' --output text
check "executions" "SUCCEEDED SUCCEEDED" aws iot list-job-executions-for-job --job-id fw-1-2-0 \
	--query 'executionSummaries[].jobExecutionSummary.status' --output text
check "the group emptied" "" aws iot list-things-in-thing-group --thing-group-name legacy-firmware --query 'things' --output text

finish e2e-jobs
