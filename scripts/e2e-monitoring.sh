#!/usr/bin/env bash
# End-to-end test of fleet monitoring with stock tools: the aws CLI turns on
# AWS IoT logging and creates a fleet metric of connected devices and an
# alarm on it; a device (mosquitto_sub over mutual TLS) connects and
# disconnects; `aws cloudwatch get-metric-statistics` reads the metric back,
# the alarm goes to ALARM, back to OK and to ALARM again, and
# `aws logs filter-log-events` finds the device's connect and disconnect.
# The server runs with development intervals: one-second fleet metrics and
# alarm evaluation every second (docs/monitoring.md).
# IOTDM_BIN names a built iotdm binary to use instead of building one.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
IOTDM_SERVE_ARGS="--fleet-metric-min-period 1s --alarm-evaluation-interval 1s" start_server

endpoint=$(aws iot describe-endpoint --endpoint-type iot:Data-ATS --query endpointAddress --output text)
host=${endpoint%:*}
port=${endpoint##*:}
[ "$port" = "$endpoint" ] && port=8883

# The aws CLI refuses a fleet metric period under AWS's 60 s before sending
# it; botocore's documented profile setting parameter_validation = false lets
# the development period through (docs/monitoring.md).
{ cat "$AWS_CONFIG_FILE"; echo "parameter_validation = false"; } >"$work/aws-config"
export AWS_CONFIG_FILE="$work/aws-config"

# AWS IoT logging on, as a user would turn it on.
check "set-v2-logging-options" "" aws iot set-v2-logging-options \
	--role-arn arn:aws:iam::123456789012:role/IoTLoggingRole --default-log-level INFO
check "get-v2-logging-options" INFO aws iot get-v2-logging-options --query defaultLogLevel --output text

# A device with a certificate and the seed device policy.
thing=monitored-sensor-01
aws iot create-thing --thing-name "$thing" >/dev/null
cert_arn=$(aws iot create-keys-and-certificate --set-as-active \
	--certificate-pem-outfile "$work/device.pem.crt" --private-key-outfile "$work/private.pem.key" \
	--query certificateArn --output text)
arn=${cert_arn%%cert/*}
sed "s/arn:aws:iot:us-east-1:123456789012:/${arn}/g" "$root/testdata/seed-device-policy.json" >"$work/policy.json"
aws iot create-policy --policy-name DevicePolicy --policy-document "file://$work/policy.json" >/dev/null
aws iot attach-policy --policy-name DevicePolicy --target "$cert_arn"
aws iot attach-thing-principal --thing-name "$thing" --principal "$cert_arn"
tls=(--cafile "$data/ca.pem" --cert "$work/device.pem.crt" --key "$work/private.pem.key" -h "$host" -p "$port")

# The fleet metric and an alarm that fires when no device is connected.
check "create-fleet-metric" connected-devices aws iot create-fleet-metric --metric-name connected-devices \
	--query-string 'connectivity.connected:true' --aggregation-type name=Statistics,values=count \
	--period 1 --aggregation-field registry.version --unit Count --query metricName --output text
check "put-metric-alarm" "" aws cloudwatch put-metric-alarm --alarm-name fleet-offline \
	--namespace IoTFleetMetrics --metric-name connected-devices --dimensions Name=AggregationType,Value=count \
	--statistic Maximum --period 10 --evaluation-periods 1 --threshold 1 \
	--comparison-operator LessThanThreshold --treat-missing-data breaching

# wait_alarm STATE: poll until the alarm is in STATE (at most 45 s).
wait_alarm() {
	local state=""
	for _ in $(seq 1 90); do
		state=$(aws cloudwatch describe-alarms --alarm-names fleet-offline --query 'MetricAlarms[0].StateValue' --output text)
		[ "$state" = "$1" ] && { echo "$state"; return; }
		sleep 0.5
	done
	echo "$state"
}
check "no device connected: ALARM" ALARM wait_alarm ALARM

mosquitto_sub "${tls[@]}" -i "$thing" -t "devices/$thing/#" >/dev/null 2>"$work/sub.err" &
sub_pid=$!
check "device connected: OK" OK wait_alarm OK
check "connectivity in the index" "$thing" aws iot search-index --query-string 'connectivity.connected:true' \
	--query 'things[].thingName' --output text

now=$(date -u +%s)
check "get-metric-statistics sees the connected device" "1.0" bash -c "aws cloudwatch get-metric-statistics \
	--namespace IoTFleetMetrics --metric-name connected-devices --dimensions Name=AggregationType,Value=count \
	--start-time $(date -u -d "@$((now - 300))" +%Y-%m-%dT%H:%M:%SZ) --end-time $(date -u -d "@$((now + 60))" +%Y-%m-%dT%H:%M:%SZ) \
	--period 60 --statistics Maximum --query 'max(Datapoints[].Maximum)' --output text | python3 -c 'import sys; print(float(sys.stdin.read()))'"
check "list-metrics" "connected-devices AggregationType count" aws cloudwatch list-metrics --namespace IoTFleetMetrics \
	--query 'Metrics[0].[MetricName, Dimensions[0].Name, Dimensions[0].Value]' --output text

kill "$sub_pid"
wait "$sub_pid" 2>/dev/null || true
check "device disconnected: ALARM again" ALARM wait_alarm ALARM
check "alarm history" "ALARM OK ALARM" bash -c "aws cloudwatch describe-alarm-history --alarm-name fleet-offline \
	--history-item-type StateUpdate --scan-by TimestampAscending --query 'AlarmHistoryItems[].HistoryData' --output text |
	python3 -c 'import json,sys; print(\" \".join(json.loads(l)[\"newState\"][\"stateValue\"] for l in sys.stdin.read().split(\"\\t\") if l.strip()))'"

# The device's connect and disconnect in AWS IoT's log group.
found() { # found EVENTTYPE: poll filter-log-events for the device's event
	for _ in $(seq 1 20); do
		n=$(aws logs filter-log-events --log-group-name AWSIotLogsV2 \
			--filter-pattern "{ \$.eventType = \"$1\" && \$.clientId = \"$thing\" }" --query 'length(events)' --output text 2>/dev/null || echo 0)
		[ "$n" != "0" ] && { echo "$1 $n"; return; }
		sleep 0.5
	done
	echo "$1 0"
}
check "filter-log-events Connect" "Connect 1" found Connect
check "filter-log-events Disconnect" "Disconnect 1" found Disconnect
# A publish the device's policy refuses is logged as an authorization failure.
mosquitto_pub "${tls[@]}" -i "$thing" -q 1 -t "devices/another-device/telemetry" -m '{"t":1}' 2>/dev/null || true
check "filter-log-events Publish-In authorization failure" "Publish-In 1" found Publish-In
# A shadow update the service rejects is logged too.
mosquitto_pub "${tls[@]}" -i "$thing" -q 1 -t "\$aws/things/$thing/shadow/update" -m 'not json' 2>/dev/null || true
check "filter-log-events UpdateThingShadow rejection" "UpdateThingShadow 1" found UpdateThingShadow
# A custom field of the fleet index whose value has another type.
aws iot update-indexing-configuration --thing-indexing-configuration \
	'thingIndexingMode=REGISTRY_AND_SHADOW,thingConnectivityIndexingMode=STATUS,customFields=[{name=attributes.temperature,type=Number}]'
sleep 1
aws iot update-thing --thing-name "$thing" --attribute-payload '{"attributes":{"temperature":"hot"}}'
thing_field() {
	for _ in $(seq 1 20); do
		n=$(aws logs filter-log-events --log-group-name AWSIotLogsV2 \
			--filter-pattern "{ \$.eventType = \"IndexingCustomFieldFailed\" && \$.thingName = \"$thing\" }" --query 'length(events)' --output text 2>/dev/null || echo 0)
		[ "$n" != "0" ] && { echo "IndexingCustomFieldFailed $n"; return; }
		sleep 0.5
	done
	echo "IndexingCustomFieldFailed 0"
}
check "filter-log-events IndexingCustomFieldFailed" "IndexingCustomFieldFailed 1" thing_field
check "a Connect event in AWS IoT's shape" "Success MQTT" bash -c "aws logs filter-log-events --log-group-name AWSIotLogsV2 \
	--filter-pattern 'Connect' --query 'events[0].message' --output text | python3 -c 'import json,sys; e=json.load(sys.stdin); print(e[\"status\"], e[\"protocol\"])'"

finish e2e-monitoring
