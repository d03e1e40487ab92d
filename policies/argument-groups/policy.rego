# Restrict a tool's arguments per user group: data.json names, per tool (as agents see it,
# namespaced), one argument and the values each group may pass in it. The user's groups come
# from the `groups` claim of their token (input.user.claims.groups). Tools that data.json does
# not name are allowed.
#
# Build: npm run policy:build   (opa build -t wasm -e mcp/argument_groups/decision policies/argument-groups)
# Test:  opa test policies/argument-groups
package mcp.argument_groups

import rego.v1

restriction := data.argument_groups.tools[input.tool.name]

permitted contains permitted_value if {
	some group in input.user.claims.groups
	some permitted_value in restriction.allowed[group]
}

argument := input.tool.arguments[restriction.argument]

# tools/list asks once per tool with no arguments: show the tool to users who may call it
# with at least one value.
listing if input.request.mcp.method == "tools/list"

decision := {"allowed": true} if {
	not restriction
} else := {"allowed": true} if {
	listing
	count(permitted) > 0
} else := {"allowed": true} if {
	not listing
	argument in permitted
} else := {
	"allowed": false,
	"external_message": sprintf("%s=%s is not permitted for your groups", [restriction.argument, argument]),
	"reason": "argument outside the user's groups",
} if {
	not listing
	is_string(argument)
} else := {
	"allowed": false,
	"external_message": sprintf("%s must name a value your groups may use", [restriction.argument]),
	"reason": "argument outside the user's groups",
}
