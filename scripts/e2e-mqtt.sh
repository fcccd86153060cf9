#!/usr/bin/env bash
# End-to-end test of devices on the wire with stock tools: the aws CLI creates a
# thing, a certificate and the seed stack's least-privilege device policy; the
# mosquitto clients (Debian's mosquitto-clients) then connect over mutual TLS
# with those files to publish, subscribe and update the device shadow, and
# `aws iot-data get-thing-shadow` reads the shadow back.
# IOTDM_BIN names a built iotdm binary to use instead of building one.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
start_server

for tool in mosquitto_pub mosquitto_sub; do
	command -v "$tool" >/dev/null || { echo "$tool is required (Debian package mosquitto-clients)"; exit 1; }
done

# The device endpoint, as a device would look it up.
endpoint=$(aws iot describe-endpoint --endpoint-type iot:Data-ATS --query endpointAddress --output text)
host=${endpoint%:*}
port=${endpoint##*:}
[ "$port" = "$endpoint" ] && port=8883
cafile="$data/ca.pem"

thing=temp-sensor-01
aws iot create-thing --thing-name "$thing" >/dev/null
aws iot create-keys-and-certificate --set-as-active \
	--certificate-pem-outfile "$work/device.pem.crt" --private-key-outfile "$work/private.pem.key" \
	--query certificateArn --output text >"$work/cert.arn"
cert_arn=$(cat "$work/cert.arn")
arn=${cert_arn%%cert/*}
sed "s/arn:aws:iot:us-east-1:123456789012:/${arn}/g" "$root/testdata/seed-device-policy.json" >"$work/policy.json"
aws iot create-policy --policy-name DevicePolicy --policy-document "file://$work/policy.json" >/dev/null
aws iot attach-policy --policy-name DevicePolicy --target "$cert_arn"
aws iot attach-thing-principal --thing-name "$thing" --principal "$cert_arn"

tls=(--cafile "$cafile" --cert "$work/device.pem.crt" --key "$work/private.pem.key" -h "$host" -p "$port")

# A subscriber on the device's own topics (a second client id: the policy
# allows connecting only as the thing name, so the subscriber is the thing and
# the publisher reuses the name after it; mosquitto_sub -C 1 exits after one
# message).
sub() { # sub CLIENTID TOPIC OUTFILE: subscribe in the background, wait for SUBACK
	mosquitto_sub "${tls[@]}" -i "$1" -t "$2" -C 1 -W 10 -v >"$3" 2>"$3.err" &
	echo $!
}

# 1. Publish and subscribe on the device's own topic, with one connection each
# way: the subscriber connects as the thing; the publisher uses the same
# client id after the subscriber got its message would kick it, so the
# publisher is iotdm's own iot-data publish API (REST into the broker).
sub_pid=$(sub "$thing" "devices/$thing/#" "$work/telemetry.out")
sleep 1
check "iot-data publish reaches a mosquitto_sub device" "devices/$thing/telemetry {\"temperature\":21.5}" bash -c "
	aws iot-data publish --topic devices/$thing/telemetry ${raw_payload[*]-} --payload '{\"temperature\":21.5}' &&
	wait $sub_pid 2>/dev/null; cat '$work/telemetry.out'"

# 2. A device publishes its reported state over MQTT; the REST API reads it.
check "mosquitto_pub shadow update" "" \
	mosquitto_pub "${tls[@]}" -i "$thing" -q 1 -t "\$aws/things/$thing/shadow/update" \
	-m '{"state":{"reported":{"temperature":22.5,"firmware":"1.0.0"}}}'
check "get-thing-shadow after the MQTT update" "22.5" bash -c "
	aws iot-data get-thing-shadow --thing-name $thing '$work/shadow.json' >/dev/null &&
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[\"state\"][\"reported\"][\"temperature\"])' '$work/shadow.json'"

# 3. A REST update of desired state reaches the device as a delta.
sub_pid=$(sub "$thing" "\$aws/things/$thing/shadow/update/delta" "$work/delta.out")
sleep 1
check "update-thing-shadow delta reaches the device" "\$aws/things/$thing/shadow/update/delta 1.2.0" bash -c "
	aws iot-data update-thing-shadow --thing-name $thing ${raw_payload[*]-} \
		--payload '{\"state\":{\"desired\":{\"firmware\":\"1.2.0\"}}}' '$work/upd.json' >/dev/null &&
	wait $sub_pid 2>/dev/null
	read -r topic json <'$work/delta.out'
	echo \"\$topic \$(printf '%s' \"\$json\" | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"state\"][\"firmware\"])')\""

# 4. Connectivity after the devices left, and a retained message over HTTPS.
check "get-thing-connectivity-data" "False CLIENT_INITIATED_DISCONNECT" \
	aws iot get-thing-connectivity-data --thing-name "$thing" --query '[connected, disconnectReason]' --output text
check "retained message" "devices/$thing/config 1 6" bash -c "
	aws iot-data publish --topic devices/$thing/config --qos 1 --retain ${raw_payload[*]-} --payload 'eco=on' &&
	aws iot-data list-retained-messages --query 'retainedTopics[0].[topic, qos, payloadSize]' --output text"
check "a late subscriber gets the retained message" "devices/$thing/config eco=on" \
	mosquitto_sub "${tls[@]}" -i "$thing" -t "devices/$thing/config" -C 1 -W 10 -v

# 5. Least privilege: another device's topic is refused; connecting under
# another client id is refused.
check_refused() { # NAME CMD...: the mosquitto command must fail
	local name=$1
	shift
	if "$@" >/dev/null 2>&1; then
		echo "FAIL $name: succeeded"
		failed=$((failed + 1))
	else
		echo "ok   $name"
		passed=$((passed + 1))
	fi
}
check_refused "connect as another client id" \
	mosquitto_pub "${tls[@]}" -i temp-sensor-02 -q 1 -t "devices/temp-sensor-02/x" -m hi
check "subscribe to another device's topics is denied" "All subscription requests were denied." bash -c "
	mosquitto_sub $(printf '%q ' "${tls[@]}") -i $thing -V mqttv5 -t 'devices/temp-sensor-02/#' -C 1 -W 3 2>&1 | head -1"

finish e2e-mqtt
