#!/usr/bin/env bash
# End-to-end test of the registry, device shadows and fleet search with the stock aws CLI
# (aws iot, aws iot-data): build iotdm, start it on a free loopback port, point
# the CLI at it with `eval "$(iotdm env)"`, and run the commands a reader of
# the AWS IoT docs would type, checking each output with --query.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
start_server
check "healthz" "ok" bash -c "curl -fsS \"\$AWS_ENDPOINT_URL/healthz\" | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"status\"])'"

# Thing types, as in the AWS IoT developer guide.
check "create-thing-type" "TemperatureSensor" \
	aws iot create-thing-type --thing-type-name TemperatureSensor \
	--thing-type-properties 'thingTypeDescription=Temperature sensors,searchableAttributes=location,firmware' \
	--query thingTypeName --output text
check "describe-thing-type" "location firmware" \
	aws iot describe-thing-type --thing-type-name TemperatureSensor \
	--query 'thingTypeProperties.searchableAttributes' --output text
check "list-thing-types" "TemperatureSensor" \
	aws iot list-thing-types --query 'thingTypes[].thingTypeName' --output text

# Things.
check "create-thing" "arn:aws:iot:us-east-1:123456789012:thing/temp-sensor-01" \
	aws iot create-thing --thing-name temp-sensor-01 --thing-type-name TemperatureSensor \
	--attribute-payload '{"attributes":{"location":"Building-A","firmware":"1.0.0"}}' \
	--query thingArn --output text
for i in 2 3 4; do
	aws iot create-thing --thing-name "temp-sensor-0$i" --thing-type-name TemperatureSensor \
		--attribute-payload "{\"attributes\":{\"location\":\"Building-$(printf "\\x$(printf %x $((64 + i)))")\",\"firmware\":\"1.$((i - 2)).0\"}}" >/dev/null
done
check "create-thing idempotent" "temp-sensor-01" \
	aws iot create-thing --thing-name temp-sensor-01 --thing-type-name TemperatureSensor \
	--attribute-payload '{"attributes":{"location":"Building-A","firmware":"1.0.0"}}' \
	--query thingName --output text
check_error "create-thing conflicting" ResourceAlreadyExistsException \
	aws iot create-thing --thing-name temp-sensor-01
check_error "create-thing bad name" InvalidRequestException \
	aws iot create-thing --thing-name 'bad name'
check "describe-thing" "Building-A 1" \
	aws iot describe-thing --thing-name temp-sensor-01 --query '[attributes.location, version]' --output text
check_error "describe-thing missing" ResourceNotFoundException \
	aws iot describe-thing --thing-name nope
check "update-thing merge" "1.2.0 2" bash -c '
	aws iot update-thing --thing-name temp-sensor-01 --attribute-payload "{\"attributes\":{\"firmware\":\"1.2.0\"},\"merge\":true}" &&
	aws iot describe-thing --thing-name temp-sensor-01 --query "[attributes.firmware, version]" --output text'
check_error "update-thing stale version" VersionConflictException \
	aws iot update-thing --thing-name temp-sensor-01 --expected-version 1 --attribute-payload '{"attributes":{"x":"y"},"merge":true}'
check "list-things" "4" \
	aws iot list-things --query 'length(things)'
check "list-things paginated by the CLI" "temp-sensor-01 temp-sensor-02 temp-sensor-03 temp-sensor-04" \
	aws iot list-things --page-size 1 --query 'things[].thingName' --output text
check "list-things by attribute" "temp-sensor-02" \
	aws iot list-things --attribute-name location --attribute-value Building-B --query 'things[].thingName' --output text
check "list-things by type" "4" \
	aws iot list-things --thing-type-name TemperatureSensor --query 'length(things)'

# Static thing groups.
check "create-thing-group" "ProductionSensors" \
	aws iot create-thing-group --thing-group-name ProductionSensors \
	--thing-group-properties 'thingGroupDescription=Production sensors,attributePayload={attributes={env=production}}' \
	--query thingGroupName --output text
check "create-thing-group child" "BuildingA" \
	aws iot create-thing-group --thing-group-name BuildingA --parent-group-name ProductionSensors \
	--query thingGroupName --output text
check "describe-thing-group hierarchy" "ProductionSensors" \
	aws iot describe-thing-group --thing-group-name BuildingA \
	--query 'thingGroupMetadata.rootToParentThingGroups[].groupName' --output text
check "add-thing-to-thing-group" "" \
	aws iot add-thing-to-thing-group --thing-group-name ProductionSensors --thing-name temp-sensor-01
check "add-thing-to-thing-group child" "" \
	aws iot add-thing-to-thing-group --thing-group-name BuildingA --thing-name temp-sensor-02
check "list-things-in-thing-group" "temp-sensor-01" \
	aws iot list-things-in-thing-group --thing-group-name ProductionSensors --query things --output text
check "list-things-in-thing-group recursive" "temp-sensor-01 temp-sensor-02" \
	aws iot list-things-in-thing-group --thing-group-name ProductionSensors --recursive --query things --output text
check "list-thing-groups-for-thing" "BuildingA" \
	aws iot list-thing-groups-for-thing --thing-name temp-sensor-02 --query 'thingGroups[].groupName' --output text
check "list-thing-groups by parent" "BuildingA" \
	aws iot list-thing-groups --parent-group ProductionSensors --query 'thingGroups[].groupName' --output text
check "update-thing-group" "2" \
	aws iot update-thing-group --thing-group-name ProductionSensors \
	--thing-group-properties 'thingGroupDescription=Production fleet' --query version
check_error "delete-thing-group with children" InvalidRequestException \
	aws iot delete-thing-group --thing-group-name ProductionSensors
check "update-thing-groups-for-thing" "ProductionSensors" bash -c '
	aws iot update-thing-groups-for-thing --thing-name temp-sensor-02 --thing-groups-to-add ProductionSensors --thing-groups-to-remove BuildingA &&
	aws iot list-thing-groups-for-thing --thing-name temp-sensor-02 --query "thingGroups[].groupName" --output text'
check "remove-thing-from-thing-group" "0" bash -c '
	aws iot remove-thing-from-thing-group --thing-group-name ProductionSensors --thing-name temp-sensor-02 &&
	aws iot list-thing-groups-for-thing --thing-name temp-sensor-02 --query "length(thingGroups)"'

# Tags and the endpoint.
group_arn=$(aws iot describe-thing-group --thing-group-name ProductionSensors --query thingGroupArn --output text)
check "tag-resource" "production" bash -c "
	aws iot tag-resource --resource-arn '$group_arn' --tags Key=env,Value=production &&
	aws iot list-tags-for-resource --resource-arn '$group_arn' --query 'tags[?Key==\`env\`].Value' --output text"
check "untag-resource" "0" bash -c "
	aws iot untag-resource --resource-arn '$group_arn' --tag-keys env &&
	aws iot list-tags-for-resource --resource-arn '$group_arn' --query 'length(tags)'"
check "describe-endpoint" "1" bash -c "
	aws iot describe-endpoint --endpoint-type iot:Data-ATS --query endpointAddress --output text | grep -c ."

# Device shadows over iot-data (signing name iotdata, same endpoint). The CLI
# writes the shadow document to its outfile argument; CLI v2 also needs to be
# told that --payload is raw text, not base64 (raw_payload, from lib.sh).
cat >"$work/fields" <<'PY'
import json, sys
doc = json.load(sys.stdin)
out = []
for p in sys.argv[1:]:
    v = doc
    for k in p.split("."):
        v = v.get(k) if isinstance(v, dict) else None
    out.append(json.dumps(v) if isinstance(v, (dict, list)) else str(v))
print(" ".join(out))
PY
# shadow_update THING [--shadow-name N] PAYLOAD: update-thing-shadow, document on stdout.
shadow_update() {
	local thing=$1
	shift
	local args=()
	while [ $# -gt 1 ]; do args+=("$1"); shift; done
	aws iot-data update-thing-shadow --thing-name "$thing" ${args[@]+"${args[@]}"} \
		${raw_payload[@]+"${raw_payload[@]}"} --payload "$1" /dev/stdout
}
check "update-thing-shadow" "1 red blue" bash -c "$(declare -f shadow_update); $(declare -p raw_payload);
	shadow_update temp-sensor-01 '{\"state\":{\"desired\":{\"color\":\"red\"},\"reported\":{\"color\":\"blue\"}}}' |
	python3 '$work/fields' version state.desired.color state.reported.color"
check "get-thing-shadow delta" "{\"color\": \"red\"} 1" bash -c "
	aws iot-data get-thing-shadow --thing-name temp-sensor-01 /dev/stdout | python3 '$work/fields' state.delta version"
check_error "update-thing-shadow stale version" ConflictException \
	shadow_update temp-sensor-01 '{"state":{"reported":{"color":"red"}},"version":7}'
check_error "update-thing-shadow invalid json" InvalidRequestException \
	shadow_update temp-sensor-01 '{"state":'
check_error "get-thing-shadow missing" ResourceNotFoundException \
	aws iot-data get-thing-shadow --thing-name no-such-thing /dev/stdout
check "update-thing-shadow named" "1 1" bash -c "$(declare -f shadow_update); $(declare -p raw_payload);
	a=\$(shadow_update temp-sensor-01 --shadow-name config '{\"state\":{\"desired\":{\"interval\":30}}}' | python3 '$work/fields' version) &&
	b=\$(shadow_update temp-sensor-01 --shadow-name firmware '{\"state\":{\"reported\":{\"v\":\"1.2.0\"}}}' | python3 '$work/fields' version) &&
	echo \$a \$b"
check "get-thing-shadow named" "30" bash -c "
	aws iot-data get-thing-shadow --thing-name temp-sensor-01 --shadow-name config /dev/stdout | python3 '$work/fields' state.desired.interval"
check "list-named-shadows-for-thing" "config firmware" \
	aws iot-data list-named-shadows-for-thing --thing-name temp-sensor-01 --query results --output text
check "delete-thing-shadow named" "1 firmware" bash -c "
	v=\$(aws iot-data delete-thing-shadow --thing-name temp-sensor-01 --shadow-name config /dev/stdout | python3 '$work/fields' version) &&
	echo \$v \$(aws iot-data list-named-shadows-for-thing --thing-name temp-sensor-01 --query results --output text)"
check "delete-thing-shadow" "1" bash -c "
	aws iot-data delete-thing-shadow --thing-name temp-sensor-01 /dev/stdout | python3 '$work/fields' version"
check_error "get-thing-shadow deleted" ResourceNotFoundException \
	aws iot-data get-thing-shadow --thing-name temp-sensor-01 /dev/stdout
check "shadow of temp-sensor-04" "1" bash -c "$(declare -f shadow_update); $(declare -p raw_payload);
	shadow_update temp-sensor-04 '{\"state\":{\"reported\":{\"temp\":21.5}}}' | python3 '$work/fields' version"

# Fleet indexing: searches and aggregations over the things and shadows above
# (the index is on by default; custom fields make fields aggregatable).
check "update-indexing-configuration" "attributes.firmware:String shadow.reported.temp:Number" bash -c '
	aws iot update-indexing-configuration --thing-indexing-configuration "{\"thingIndexingMode\":\"REGISTRY_AND_SHADOW\",\"thingConnectivityIndexingMode\":\"STATUS\",\"customFields\":[{\"name\":\"attributes.firmware\",\"type\":\"String\"},{\"name\":\"shadow.reported.temp\",\"type\":\"Number\"}]}" &&
	aws iot get-indexing-configuration --query "thingIndexingConfiguration.customFields[].join(\`:\`, [name, type])" --output text'
check "search-index wildcard" "temp-sensor-01 temp-sensor-02 temp-sensor-03 temp-sensor-04" \
	aws iot search-index --query-string 'thingName:temp-sensor-0*' --query 'things[].thingName' --output text
check "search-index attribute" "temp-sensor-02" \
	aws iot search-index --index-name AWS_Things --query-string 'attributes.location:Building-B' --query 'things[].thingName' --output text
check "search-index range" "temp-sensor-01 temp-sensor-03" \
	aws iot search-index --query-string 'attributes.firmware:[1.1.0 TO 1.2.0] AND NOT thingName:temp-sensor-04' --query 'things[].thingName' --output text
check "search-index shadow" "temp-sensor-04 21.5 False" bash -c "
	aws iot search-index --query-string 'shadow.reported.temp > 20' --query 'things[0].[thingName, shadow]' --output text |
	{ read -r name shadow; echo \$name \$(printf '%s' \"\$shadow\" | python3 '$work/fields' reported.temp hasDelta); }"
check "search-index max-results" "1 True" bash -c "
	aws iot search-index --query-string '*' --max-results 1 --output json |
	python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d[\"things\"]), bool(d.get(\"nextToken\")))'"
check "search-index thing groups" "BuildingA" \
	aws iot search-index --index-name AWS_ThingGroups --query-string 'parentGroupNames:ProductionSensors' --query 'thingGroups[].thingGroupName' --output text
check_error "search-index bad query" InvalidQueryException \
	aws iot search-index --query-string 'thingName:(a OR'
check "get-statistics" "1 21.5 21.5" \
	aws iot get-statistics --query-string '*' --aggregation-field shadow.reported.temp \
	--query '[statistics.count, statistics.sum, statistics.average]' --output text
check "get-statistics string field" "4" \
	aws iot get-statistics --query-string 'thingName:temp-sensor-*' --aggregation-field attributes.firmware --query statistics.count
check_error "get-statistics undeclared field" InvalidAggregationException \
	aws iot get-statistics --query-string '*' --aggregation-field attributes.location
check "get-cardinality" "3" \
	aws iot get-cardinality --query-string '*' --aggregation-field attributes.firmware --query cardinality
check "get-percentiles" "50.0 21.5" \
	aws iot get-percentiles --query-string '*' --aggregation-field shadow.reported.temp --percents 50 \
	--query 'percentiles[0].[percent, value]' --output text
check "get-buckets-aggregation" "4 1.2.0 2" \
	aws iot get-buckets-aggregation --query-string '*' --aggregation-field attributes.firmware \
	--buckets-aggregation-type 'termsAggregation={maxBuckets=1}' --query '[totalCount, buckets[0].keyValue, buckets[0].count]' --output text

# Dynamic thing groups: membership follows the query as attributes and shadows change.
# members GROUP: the group's things, space-separated.
members() {
	aws iot list-things-in-thing-group --thing-group-name "$1" --query things --output text | tr -s '\t\n' '  ' | sed -e 's/ $//'
}
# eventually WANT GROUP: poll the group's members for up to 3 s until they are WANT.
eventually() {
	local want=$1 group=$2 got=""
	for _ in $(seq 1 30); do
		got=$(members "$group")
		[ "$got" = "$want" ] && break
		sleep 0.1
	done
	printf '%s' "$got"
}
check "create-dynamic-thing-group" "Firmware120 attributes.firmware:1.2.0" \
	aws iot create-dynamic-thing-group --thing-group-name Firmware120 --query-string 'attributes.firmware:1.2.0' \
	--query '[thingGroupName, queryString]' --output text
check "dynamic group members" "temp-sensor-01 temp-sensor-04" bash -c "$(declare -f members eventually); eventually 'temp-sensor-01 temp-sensor-04' Firmware120"
check "dynamic group gains a thing" "temp-sensor-01 temp-sensor-02 temp-sensor-04" bash -c "$(declare -f members eventually);
	aws iot update-thing --thing-name temp-sensor-02 --attribute-payload '{\"attributes\":{\"firmware\":\"1.2.0\"},\"merge\":true}' &&
	eventually 'temp-sensor-01 temp-sensor-02 temp-sensor-04' Firmware120"
check "dynamic group loses a thing" "temp-sensor-02 temp-sensor-04" bash -c "$(declare -f members eventually);
	aws iot update-thing --thing-name temp-sensor-01 --attribute-payload '{\"attributes\":{\"firmware\":\"1.3.0\"},\"merge\":true}' &&
	eventually 'temp-sensor-02 temp-sensor-04' Firmware120"
check "list-thing-groups-for-thing shows the dynamic group" "Firmware120" bash -c "
	aws iot list-thing-groups-for-thing --thing-name temp-sensor-02 --query 'thingGroups[?groupName==\`Firmware120\`].groupName' --output text"
check_error "add-thing-to-thing-group on a dynamic group" InvalidRequestException \
	aws iot add-thing-to-thing-group --thing-group-name Firmware120 --thing-name temp-sensor-03
check "dynamic group on a shadow field" "HotSensors" \
	aws iot create-dynamic-thing-group --thing-group-name HotSensors --query-string 'shadow.reported.heat > 30' --query thingGroupName --output text
check "shadow change joins the group" "temp-sensor-03" bash -c "$(declare -f members eventually shadow_update); $(declare -p raw_payload);
	shadow_update temp-sensor-03 '{\"state\":{\"reported\":{\"heat\":35}}}' >/dev/null &&
	eventually temp-sensor-03 HotSensors"
check "shadow change leaves the group" "" bash -c "$(declare -f members eventually shadow_update); $(declare -p raw_payload);
	shadow_update temp-sensor-03 '{\"state\":{\"reported\":{\"heat\":10}}}' >/dev/null &&
	eventually '' HotSensors"
check_error "create-dynamic-thing-group bad query" InvalidQueryException \
	aws iot create-dynamic-thing-group --thing-group-name Broken --query-string 'attributes.firmware:(1.2.0 OR'
check "delete-dynamic-thing-group" "0" bash -c '
	aws iot delete-dynamic-thing-group --thing-group-name HotSensors &&
	aws iot list-thing-groups --name-prefix-filter HotSensors --query "length(thingGroups)"'

# Deletes.
check "deprecate-thing-type" "True" bash -c '
	aws iot deprecate-thing-type --thing-type-name TemperatureSensor &&
	aws iot describe-thing-type --thing-type-name TemperatureSensor --query thingTypeMetadata.deprecated --output text'
check_error "create-thing with deprecated type" InvalidRequestException \
	aws iot create-thing --thing-name temp-sensor-09 --thing-type-name TemperatureSensor
check "undo deprecate" "False" bash -c '
	aws iot deprecate-thing-type --thing-type-name TemperatureSensor --undo-deprecate &&
	aws iot describe-thing-type --thing-type-name TemperatureSensor --query thingTypeMetadata.deprecated --output text'
check "delete-thing" "3" bash -c '
	aws iot delete-thing --thing-name temp-sensor-04 &&
	aws iot list-things --query "length(things)"'
check "shadow outlives its thing" "21.5" bash -c "
	aws iot-data get-thing-shadow --thing-name temp-sensor-04 /dev/stdout | python3 '$work/fields' state.reported.temp"
check "delete-thing-group" "Firmware120 ProductionSensors" bash -c '
	aws iot delete-thing-group --thing-group-name BuildingA &&
	aws iot list-thing-groups --query "thingGroups[].groupName" --output text'

# Authentication: a wrong secret is refused.
check_error "wrong secret" InvalidSignatureException \
	env AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_ACCESS_KEY_ID="$(awk -F' *= *' '/aws_access_key_id/{print $2}' "$AWS_SHARED_CREDENTIALS_FILE")" \
	AWS_SECRET_ACCESS_KEY=wrongwrongwrongwrongwrongwrongwrongwrong aws iot list-things
check_error "unknown key" UnrecognizedClientException \
	env AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_ACCESS_KEY_ID=AKIAUNKNOWNUNKNOWN00 AWS_SECRET_ACCESS_KEY=x aws iot list-things

# The same server through boto3, with the same environment.
run_script e2e-boto3.py python3 "$root/scripts/e2e-boto3.py"

# Certificates and policies, on a server of their own from the same binary.
run_script e2e-security.sh env IOTDM_BIN="$bin" bash "$root/scripts/e2e-security.sh"

# Devices on the wire with the mosquitto clients.
run_script e2e-mqtt.sh env IOTDM_BIN="$bin" bash "$root/scripts/e2e-mqtt.sh"

# Fleet monitoring: fleet metric, CloudWatch, alarms, AWS IoT logs.
run_script e2e-monitoring.sh env IOTDM_BIN="$bin" bash "$root/scripts/e2e-monitoring.sh"

# Jobs: a firmware job to a dynamic group, taken by mosquitto devices.
run_script e2e-jobs.sh env IOTDM_BIN="$bin" bash "$root/scripts/e2e-jobs.sh"

# The web console in headless Chromium.
run_script e2e-console.sh env IOTDM_BIN="$bin" bash "$root/scripts/e2e-console.sh"

# Stacks: iotdm up with the seed stack, its workflow, deploy, destroy, the CDK app.
run_script e2e-stack.sh bash "$root/scripts/e2e-stack.sh"

finish e2e-cli
