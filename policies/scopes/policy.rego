# Allow a tool call when the agent's token carries the scope the tool needs: tools whose
# upstream name starts with a write verb need tools:write, every other tool tools:read, and so do
# prompts and resources (no input.tool, so no write verb).
#
# Build: npm run policy:build   (opa build -t wasm -e mcp/scopes/decision policies/scopes)
# Test:  opa test policies/scopes
package mcp.scopes

import rego.v1

write_verbs := ["create_", "update_", "delete_", "remove_", "write_", "set_"]

required_scope := "tools:write" if {
	some verb in write_verbs
	startswith(input.tool.upstream_name, verb)
} else := "tools:read"

# The gateway reads `allowed`, shows `external_message` to the agent and writes `reason` to the
# audit event. For tools/list it asks the same question with no arguments: a tool this token
# can never call is hidden.
decision := {"allowed": true} if {
	required_scope in input.token.scopes
} else := {
	"allowed": false,
	"external_message": sprintf("this tool needs the %s scope", [required_scope]),
	"reason": sprintf("token lacks scope %s", [required_scope]),
}
