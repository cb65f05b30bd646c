# Data residency: where a provider processes the prompt.
#
# The tenant's residency is authoritative. The X-Data-Residency header can set
# a residency for a tenant that has none, but can never change a tenant's.
package router

# Residency names are compared case-insensitively ("EU" and "eu" are one
# jurisdiction); a blank or non-string value means "not set".
residency_value(x) := lower(trim_space(x)) if {
	is_string(x)
	trim_space(x) != ""
} else := null

default tenant_residency := null

tenant_residency := residency_value(tenant.residency)

header_residency := residency_value(object.get(request, "residency", null))

effective_residency := tenant_residency if {
	tenant_residency != null
} else := header_residency

residency_source := "tenant" if {
	tenant_residency != null
} else := "request"

residency_conflict if {
	tenant_residency != null
	header_residency != null
	header_residency != tenant_residency
}

provider_residency(p) := residency_value(object.get(p, ["attributes", "residency"], null))

denial contains [id, msg] if {
	residency_conflict
	some id, _ in providers
	msg := concat("", [
		"residency: request header asked for ", header_residency,
		" but tenant ", input.tenant, " is bound to ", tenant_residency,
		"; a header may not change a tenant's residency",
	])
}

denial contains [id, msg] if {
	effective_residency != null
	some id, p in providers
	provider_residency(p) != null
	provider_residency(p) != effective_residency
	msg := concat("", [
		"residency: ", residency_source, " requires ", effective_residency,
		", provider processes data in ", provider_residency(p),
	])
}

# A provider that does not declare where it processes data cannot be shown to
# meet any residency requirement.
denial contains [id, msg] if {
	effective_residency != null
	some id, p in providers
	provider_residency(p) == null
	msg := concat("", [
		"residency: ", residency_source, " requires ", effective_residency,
		", provider does not declare where it processes data",
	])
}
