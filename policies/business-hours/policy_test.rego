package mcp.business_hours_test

import rego.v1

import data.mcp.business_hours

# Instants in UTC; data.json puts business hours at 09:00-18:00, UTC+1, Monday to Friday.
monday_0830_utc := 1772440200 # 09:30 local

monday_0759_utc := 1772438340 # 08:59 local

monday_1700_utc := 1772470800 # 18:00 local

saturday_1000_utc := 1772877600

call(upstream_name, unix) := {
	"tool": {"upstream_name": upstream_name},
	"time": {"unix": unix},
}

test_destructive_tool_allowed_during_business_hours if {
	business_hours.decision.allowed with input as call("delete_branch", monday_0830_utc)
}

test_destructive_tool_denied_before_opening if {
	d := business_hours.decision with input as call("delete_branch", monday_0759_utc)
	d.allowed == false
	d.external_message == "destructive tools may only run during business hours"
}

test_destructive_tool_denied_at_closing_time if {
	not business_hours.decision.allowed with input as call("drop_table", monday_1700_utc)
}

test_destructive_tool_denied_on_saturday if {
	not business_hours.decision.allowed with input as call("remove_member", saturday_1000_utc)
}

test_other_tools_allowed_at_any_time if {
	business_hours.decision.allowed with input as call("list_issues", saturday_1000_utc)
}
