# Keep whole apps to some user groups: data.json names, per app (its name in the gateway's
# configuration), the groups whose users may use it; apps it does not name are open to all. The
# user's groups come from the `groups` claim of their token (input.user.claims.groups). Listing
# asks the same question, so an app the user may not use disappears from tools/list entirely.
# input.app names the app of every request, tool, prompt or resource alike, so the app's prompts
# and resources are kept to the same groups.
#
# Build: npm run policy:build   (opa build -t wasm -e mcp/app_groups/decision policies/app-groups)
# Test:  opa test policies/app-groups
package mcp.app_groups

import rego.v1

permitted_groups := data.app_groups.apps[input.app.name]

decision := {"allowed": true} if {
	not permitted_groups
} else := {"allowed": true} if {
	some group in input.user.claims.groups
	group in permitted_groups
} else := {
	"allowed": false,
	"external_message": sprintf("the %s app is not available to your groups", [input.app.name]),
	"reason": "user is in none of the app's groups",
}
