# Privacy tags: the kinds of data a request carries and what each demands of a
# provider. Tags from the tenant and from the X-Privacy-Tags header are merged,
# so a header can add obligations but never remove the tenant's.
package router

# pii carries no provider requirement of its own: structured PII is redacted
# for every provider that is not self-hosted (see redaction.rego).
known_privacy_tags := {"pii", "phi", "pci", "confidential"}

privacy_tag(x) := lower(trim_space(x)) if {
	is_string(x)
	trim_space(x) != ""
}

tenant_tags := {tag |
	some raw in tenant_list("privacy_tags")
	tag := privacy_tag(raw)
}

request_tags := {tag |
	some raw in object.get(request, "privacy_tags", [])
	tag := privacy_tag(raw)
}

effective_tags := tenant_tags | request_tags

# A missing attribute reads as the restrictive answer, so each check asks for
# a literal true or an explicit list entry.
has_certification(p, cert) if cert in p.attributes.certifications

self_hosted(p) if p.attributes.self_hosted == true

zero_data_retention(p) if p.attributes.zero_data_retention == true

denial contains [id, "privacy: phi needs a provider with a signed HIPAA business associate agreement (certification hipaa_baa)"] if {
	"phi" in effective_tags
	some id, p in providers
	not has_certification(p, "hipaa_baa")
}

denial contains [id, "privacy: pci card data may only go to a self-hosted provider"] if {
	"pci" in effective_tags
	some id, p in providers
	not self_hosted(p)
}

denial contains [id, "privacy: confidential data needs a provider with zero data retention"] if {
	"confidential" in effective_tags
	some id, p in providers
	not zero_data_retention(p)
}

# A tag this policy does not know may stand for an obligation nobody has
# written down yet (or be a typo of one that exists), so no provider can be
# shown to meet it: fail closed, and name the tag so the fix is obvious.
denial contains [id, msg] if {
	some tag in effective_tags
	not tag in known_privacy_tags
	some id, _ in providers
	msg := concat("", ["privacy: tag ", tag, " is not known to the policy, so no provider can be shown to meet it"])
}
