# Deny destructive tools outside business hours; every other call is this policy's to allow.
# Business hours, the time zone (as a fixed offset from UTC: no daylight saving) and what
# counts as destructive come from data.json beside this file.
#
# OPA's wasm ABI leaves time.* built-ins to the host, and the gateway provides none (only the
# SDK's json, regex, sprintf and yaml ones), so the hour and weekday are computed from
# input.time.unix, not with time.clock / time.weekday.
#
# Build: npm run policy:build   (opa build -t wasm -e mcp/business_hours/decision policies/business-hours)
# Test:  opa test policies/business-hours
package mcp.business_hours

import rego.v1

hours := data.business_hours

destructive if {
	some prefix in hours.destructive_prefixes
	startswith(input.tool.upstream_name, prefix)
}

local_seconds := input.time.unix + (hours.utc_offset_minutes * 60)

hour := floor((local_seconds % 86400) / 3600)

# 1970-01-01 was a Thursday; 0 is Sunday.
weekday := (floor(local_seconds / 86400) + 4) % 7

business_hours if {
	weekday >= 1
	weekday <= 5
	hour >= hours.start_hour
	hour < hours.end_hour
}

default decision := {"allowed": true}

decision := {
	"allowed": false,
	"external_message": "destructive tools may only run during business hours",
	"reason": "destructive tool outside business hours",
} if {
	destructive
	not business_hours
}
