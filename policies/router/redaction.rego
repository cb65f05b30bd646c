# Redaction obligations: which entity types the sidecar must replace before a
# request reaches each allowed provider. Names match the redactor's entity types.
package router

entity_types := {
	"EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN",
	"IP_ADDRESS", "SECRET", "UK_NINO", "DE_TAX_ID", "FR_NIR", "ES_NIF",
	"ES_NIE", "IT_FISCAL_CODE", "NL_BSN", "IN_AADHAAR", "PERSON", "LOCATION",
}

# PERSON and LOCATION are found by context, not by pattern or checksum, so
# they misfire more often; tenants opt into them with redact_extra.
contextual_entities := {"PERSON", "LOCATION"}

structured_entities := entity_types - contextual_entities

tenant_redact_extra := {e | some e in tenant_list("redact_extra")}

# Credentials never need to reach a model, wherever it runs.
always_redacted := {"SECRET"}

# Structured PII stays inside the tenant's own infrastructure: a self-hosted
# provider may see it, a third party may not.
off_premises_redactions(p) := set() if {
	self_hosted(p)
} else := structured_entities

provider_redactions(p) := (always_redacted | tenant_redact_extra) | off_premises_redactions(p)

redact := {id: sort([e | some e in provider_redactions(providers[id])]) | some id in allowed_set}

# An entity type the redactor does not know would silently not be redacted;
# fail closed until the tenant entry is fixed.
denial contains [id, msg] if {
	some e in tenant_redact_extra
	not e in entity_types
	some id, _ in providers
	msg := concat("", ["redaction: tenant ", input.tenant, " asks to redact ", e, ", which is not a known entity type"])
}
