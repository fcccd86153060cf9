#!/usr/bin/env bash
# End-to-end test of the web console in Debian's headless Chromium, against a
# real iotdm: the seed stack deployed, three sample things connected over
# MQTT with mosquitto_sub (Debian's mosquitto-clients), then the browser test
# of internal/console (TestBrowser) signs in with the admin key, searches
# attributes.firmware:1.0.0, opens a thing, edits its desired shadow and sees
# the delta, and watches the connected-devices count and chart drop when one
# device disconnects (this script kills that device's client), visiting every
# page on the way. Screenshots go to $IOTDM_CONSOLE_SCREENSHOTS (default
# bin/console-screenshots).
# IOTDM_BIN names a built iotdm binary to use instead of building one;
# IOTDM_CHROMIUM a browser other than chromium on the PATH.
set -euo pipefail

. "$(dirname "$0")/lib.sh"

for tool in mosquitto_sub chromium; do
	if [ "$tool" = chromium ] && [ -n "${IOTDM_CHROMIUM:-}" ]; then continue; fi
	command -v "$tool" >/dev/null || { echo "$tool is required (Debian packages mosquitto-clients and chromium)"; exit 1; }
done

start_server
base="$AWS_ENDPOINT_URL/console/"
code=$(curl -s -o /dev/null -w '%{http_code}' "${base}signin")
[ "$code" = 200 ] || { echo "FAIL the console is not served at ${base} (GET signin = $code)"; exit 1; }
echo "ok   console served at $base"

# The seed stack: sample things, groups, the device policy, fleet metrics,
# the alarm and the dashboard.
"$bin" stack deploy --require-approval never >"$work/deploy.out" 2>&1 || { cat "$work/deploy.out"; exit 1; }
echo "ok   seed stack deployed"

# Three devices connect with their own certificates and the seed's policy,
# each as a long-lived mosquitto_sub on its own topics.
endpoint=$(aws iot describe-endpoint --endpoint-type iot:Data-ATS --query endpointAddress --output text)
host=${endpoint%:*}
port=${endpoint##*:}
[ "$port" = "$endpoint" ] && port=8883
policy=$(aws cloudformation describe-stacks --stack-name IoTDeviceManagementStack \
	--query 'Stacks[0].Outputs[?OutputKey==`IoTPolicyName`].OutputValue' --output text)
declare -A device_pid
for thing in temp-sensor-01 temp-sensor-02 temp-sensor-03; do
	cert_arn=$(aws iot create-keys-and-certificate --set-as-active \
		--certificate-pem-outfile "$work/$thing.crt" --private-key-outfile "$work/$thing.key" \
		--query certificateArn --output text)
	aws iot attach-policy --policy-name "$policy" --target "$cert_arn"
	aws iot attach-thing-principal --thing-name "$thing" --principal "$cert_arn"
	mosquitto_sub --cafile "$data/ca.pem" --cert "$work/$thing.crt" --key "$work/$thing.key" -h "$host" -p "$port" \
		-i "$thing" -t "devices/$thing/#" -k 30 >"$work/$thing.out" 2>&1 &
	device_pid[$thing]=$!
done
devices_cleanup() {
	for pid in "${device_pid[@]}"; do kill "$pid" 2>/dev/null || true; done
	cleanup
}
trap devices_cleanup EXIT
for _ in $(seq 1 100); do
	n=$(aws iot search-index --query-string connectivity.connected:true --query 'length(things)' --output text)
	[ "$n" = 3 ] && break
	sleep 0.2
done
check "three devices connected" 3 aws iot search-index --query-string connectivity.connected:true --query 'length(things)' --output text

# The browser test; the disconnect is temp-sensor-03's client going away.
shots=${IOTDM_CONSOLE_SCREENSHOTS:-$root/bin/console-screenshots}
mkdir -p "$shots"
key_id=$(aws configure get aws_access_key_id)
secret=$(aws configure get aws_secret_access_key)
if (cd "$root" && IOTDM_CONSOLE_URL="$base" IOTDM_CONSOLE_ACCESS_KEY_ID="$key_id" IOTDM_CONSOLE_SECRET_ACCESS_KEY="$secret" \
	IOTDM_CONSOLE_DISCONNECT="kill ${device_pid[temp-sensor-03]}" IOTDM_CONSOLE_SCREENSHOTS="$shots" \
	go test -count=1 -run '^TestBrowser$' -v ./internal/console/ >"$work/browser.out" 2>&1); then
	echo "ok   browser test (screenshots in $shots)"
	passed=$((passed + 1))
else
	cat "$work/browser.out"
	echo "FAIL browser test"
	failed=$((failed + 1))
fi
check "the disconnect reached the index" 2 aws iot search-index --query-string connectivity.connected:true --query 'length(things)' --output text

finish e2e-console
