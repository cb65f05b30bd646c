# Tenant lookup and the tenant's own provider lists.
#
# Every file in package router adds [provider id, reason] pairs to `denial`;
# decision.rego turns them into the allowed set. A rule here never allows
# anything: a provider is allowed only when no rule in any file denies it.
package router

# The request and provider catalog as sent by the sidecar, defaulted so that a
# missing or malformed field makes rules deny rather than the decision vanish.
default request := {}

request := input.request if is_object(input.request)

default providers := {}

providers := input.providers if is_object(input.providers)

# The tenant's entry in data.tenants; undefined for an unknown tenant.
tenant := data.tenants[input.tenant] if is_object(data.tenants[input.tenant])

default tenant_known := false

tenant_known if is_object(tenant)

# A list-valued tenant setting; a missing or non-list value reads as empty.
tenant_list(key) := tenant[key] if {
	is_array(tenant[key])
} else := []

denial contains [id, msg] if {
	is_array(tenant.allow_providers)
	some id, _ in providers
	not id in tenant.allow_providers
	msg := concat("", ["tenant: ", id, " is not on tenant ", input.tenant, "'s allow list"])
}

denial contains [id, msg] if {
	some id, _ in providers
	id in tenant_list("deny_providers")
	msg := concat("", ["tenant: ", id, " is on tenant ", input.tenant, "'s deny list"])
}

# The tenant's preferred order, kept to allowed providers; a repeated entry
# keeps its first position so the router never tries a provider twice.
# models.rego adds the same model on other providers to make `preference`.
tenant_preference := tenant_list("preference")

tenant_preference_allowed := [id |
	some i
	id := tenant_preference[i]
	id in allowed_set
	not id in array.slice(tenant_preference, 0, i)
]

# Routing around a provider's content refusal sends the same prompt elsewhere,
# so it must be opted into explicitly; anything but literal true means no.
default allow_refusal_fallback := false

allow_refusal_fallback if tenant.allow_refusal_fallback == true
