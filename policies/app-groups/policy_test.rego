package mcp.app_groups_test

import rego.v1

import data.mcp.app_groups

call(app, groups) := {
	"user": {"sub": "alice", "claims": {"groups": groups}},
	"tool": {"name": sprintf("%s__restart", [app]), "app": app, "arguments": {}},
	"request": {"mcp": {"method": "tools/call"}},
}

test_a_member_of_a_permitted_group_may_use_the_app if {
	app_groups.decision.allowed with input as call("ops", ["engineering", "sre"])
}

test_others_may_not if {
	d := app_groups.decision with input as call("ops", ["engineering"])
	d.allowed == false
	d.external_message == "the ops app is not available to your groups"
}

test_a_user_without_groups_may_not if {
	d := app_groups.decision with input as {"user": {"sub": "ci-agent", "claims": {}}, "tool": {"name": "ops__restart", "app": "ops"}, "request": {"mcp": {"method": "tools/list"}}}
	d.allowed == false
}

test_apps_not_named_are_open if {
	app_groups.decision.allowed with input as call("notes", [])
}
