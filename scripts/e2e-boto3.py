#!/usr/bin/env python3
"""End-to-end test of the registry with boto3.

Run by scripts/e2e-cli.sh against the server it started, with the
environment `eval "$(iotdm env)"` set up: boto3 finds the endpoint, the
credentials and the region there and nowhere else.
"""
import sys

import boto3
import botocore.exceptions

iot = boto3.client("iot")
passed = failed = 0


def check(name, got, want):
    global passed, failed
    if got == want:
        print(f"ok   {name}")
        passed += 1
    else:
        print(f"FAIL {name}: got {got!r}, want {want!r}")
        failed += 1


def error_code(fn, **kwargs):
    try:
        fn(**kwargs)
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    return None, 200


iot.create_thing_type(thingTypeName="Boto3Sensor",
                      thingTypeProperties={"searchableAttributes": ["location"]})
for i in range(7):
    iot.create_thing(thingName=f"boto3-sensor-{i}", thingTypeName="Boto3Sensor",
                     attributePayload={"attributes": {"location": f"Building-{'AB'[i % 2]}"}})

names = []
for page in iot.get_paginator("list_things").paginate(thingTypeName="Boto3Sensor",
                                                        PaginationConfig={"PageSize": 3}):
    names += [t["thingName"] for t in page["things"]]
check("list_things paginator", names, [f"boto3-sensor-{i}" for i in range(7)])

d = iot.describe_thing(thingName="boto3-sensor-3")
check("describe_thing", (d["attributes"], d["version"], d["defaultClientId"]),
      ({"location": "Building-B"}, 1, "boto3-sensor-3"))
check("request id echoed", bool(d["ResponseMetadata"]["RequestId"]), True)

iot.create_thing_group(thingGroupName="Boto3Fleet")
iot.create_thing_group(thingGroupName="Boto3Floor", parentGroupName="Boto3Fleet")
iot.add_thing_to_thing_group(thingGroupName="Boto3Floor", thingName="boto3-sensor-1")
iot.add_thing_to_thing_group(thingGroupArn=iot.describe_thing_group(thingGroupName="Boto3Fleet")["thingGroupArn"],
                             thingName="boto3-sensor-2")
things = []
for page in iot.get_paginator("list_things_in_thing_group").paginate(
        thingGroupName="Boto3Fleet", recursive=True, PaginationConfig={"PageSize": 1}):
    things += page["things"]
check("list_things_in_thing_group recursive", things, ["boto3-sensor-1", "boto3-sensor-2"])
check("describe_thing_group path",
      [g["groupName"] for g in iot.describe_thing_group(thingGroupName="Boto3Floor")
       ["thingGroupMetadata"]["rootToParentThingGroups"]], ["Boto3Fleet"])

check("ResourceNotFoundException", error_code(iot.describe_thing, thingName="nope"),
      ("ResourceNotFoundException", 404))
check("ResourceAlreadyExistsException", error_code(iot.create_thing, thingName="boto3-sensor-0"),
      ("ResourceAlreadyExistsException", 409))
check("VersionConflictException",
      error_code(iot.update_thing, thingName="boto3-sensor-0", expectedVersion=9,
                 attributePayload={"attributes": {"x": "y"}, "merge": True}),
      ("VersionConflictException", 409))
check("InvalidRequestException (name)", error_code(iot.create_thing, thingName="bad name"),
      ("InvalidRequestException", 400))
check("InvalidRequestException (children)", error_code(iot.delete_thing_group, thingGroupName="Boto3Fleet"),
      ("InvalidRequestException", 400))
check("a refused update changed nothing", iot.describe_thing(thingName="boto3-sensor-0")["version"], 1)

print(f"e2e-boto3: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
