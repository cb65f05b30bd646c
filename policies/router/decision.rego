# The routing decision: the one document the sidecar evaluates
# (data.router.decision). Deny by default: a provider is allowed only when the
# tenant is known and no rule in package router produced a denial for it.
package router

denied_ids := {id | some [id, _] in denial}

# Comprehension bodies start with `some` and never bind two variables inside a
# set or array: rego-cpp (regopy) parses those forms as collection literals.
# Likewise messages use concat, not sprintf: regopy's sprintf quotes %s
# arguments produced by builtins such as lower().
allowed_set := {id |
	some id in object.keys(providers)
	tenant_known
	not id in denied_ids
}

reasons_for(id) := sort([msg | some [pid, msg] in denial; pid == id])

constraints := {
	"residency": effective_residency,
	"privacy_tags": sort([t | some t in effective_tags]),
	"task_class": task_class,
	"quality_floor": constraint_floor,
}

decision := {
	"tenant_known": false,
	"allowed": [],
	"denied": {id: ["unknown tenant"] | some id, _ in providers},
	"obligations": {"redact": {}, "allow_refusal_fallback": false},
	"preference": [],
	"constraints": constraints,
} if {
	not tenant_known
} else := {
	"tenant_known": true,
	"allowed": sort([id | some id in allowed_set]),
	"denied": {id: reasons_for(id) | some id in denied_ids},
	"obligations": {"redact": redact, "allow_refusal_fallback": allow_refusal_fallback},
	"preference": preference,
	"constraints": constraints,
}
