package mcp.app_groups_test

import rego.v1

import data.mcp.app_groups

call(app, groups) := {
	"user": {"sub": "alice", "claims": {"groups": groups}},
	"app": {"name": app},
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
	d := app_groups.decision with input as {"user": {"sub": "ci-agent", "claims": {}}, "app": {"name": "ops"}, "tool": {"name": "ops__restart", "app": "ops"}, "request": {"mcp": {"method": "tools/list"}}}
	d.allowed == false
}

test_apps_not_named_are_open if {
	app_groups.decision.allowed with input as call("notes", [])
}

test_the_app_s_prompts_and_resources_are_kept_to_the_same_groups if {
	prompt := {"user": {"sub": "alice", "claims": {"groups": ["engineering"]}}, "app": {"name": "ops"}, "prompt": {"name": "ops__runbook", "app": "ops"}, "request": {"mcp": {"method": "prompts/get"}}}
	not app_groups.decision.allowed with input as prompt
	resource := {"user": {"sub": "alice", "claims": {"groups": ["sre"]}}, "app": {"name": "ops"}, "resource": {"uri": "ops://hosts", "app": "ops"}, "request": {"mcp": {"method": "resources/read"}}}
	app_groups.decision.allowed with input as resource
}
