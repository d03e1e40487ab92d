package mcp.argument_groups_test

import rego.v1

import data.mcp.argument_groups

call(groups, repo) := {
	"user": {"sub": "alice", "claims": {"groups": groups}},
	"tool": {"name": "github__create_issue", "arguments": {"repo": repo, "title": "Broken build"}},
	"request": {"mcp": {"method": "tools/call"}},
}

listing(groups) := {
	"user": {"sub": "alice", "claims": {"groups": groups}},
	"tool": {"name": "github__create_issue"},
	"request": {"mcp": {"method": "tools/list"}},
}

test_engineering_may_file_in_api if {
	argument_groups.decision.allowed with input as call(["engineering"], "acme/api")
}

test_support_may_not_file_in_api if {
	d := argument_groups.decision with input as call(["support"], "acme/api")
	d.allowed == false
	d.external_message == "repo=acme/api is not permitted for your groups"
}

test_a_missing_argument_is_denied if {
	d := argument_groups.decision with input as {
		"user": {"sub": "alice", "claims": {"groups": ["engineering"]}},
		"tool": {"name": "github__create_issue", "arguments": {"title": "Broken build"}},
		"request": {"mcp": {"method": "tools/call"}},
	}
	d.allowed == false
	d.external_message == "repo must name a value your groups may use"
}

test_groups_add_up if {
	argument_groups.decision.allowed with input as call(["support", "engineering"], "acme/web")
}

test_unrestricted_tools_are_allowed if {
	argument_groups.decision.allowed with input as {"tool": {"name": "github__list_issues", "arguments": {}}, "request": {"mcp": {"method": "tools/call"}}}
}

test_listed_for_a_member_of_an_allowed_group if {
	argument_groups.decision.allowed with input as listing(["support"])
}

test_hidden_from_users_in_no_allowed_group if {
	not argument_groups.decision.allowed with input as listing(["sales"])
}
