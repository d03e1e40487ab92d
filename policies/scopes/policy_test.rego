package mcp.scopes_test

import rego.v1

import data.mcp.scopes

call(upstream_name, token_scopes) := {
	"tool": {"name": sprintf("github__%s", [upstream_name]), "app": "github", "upstream_name": upstream_name, "arguments": {}},
	"token": {"scopes": token_scopes},
}

test_read_tool_allowed_with_read_scope if {
	scopes.decision == {"allowed": true} with input as call("list_issues", ["tools:read"])
}

test_read_tool_denied_without_any_scope if {
	d := scopes.decision with input as call("list_issues", [])
	d.allowed == false
	d.external_message == "this tool needs the tools:read scope"
}

test_write_tool_denied_with_read_scope_only if {
	d := scopes.decision with input as call("create_issue", ["tools:read"])
	d.allowed == false
	d.external_message == "this tool needs the tools:write scope"
	d.reason == "token lacks scope tools:write"
}

test_write_tool_allowed_with_write_scope if {
	scopes.decision.allowed with input as call("delete_branch", ["tools:read", "tools:write"])
}
