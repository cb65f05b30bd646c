package router_test

import data.router

structured := [
	"CREDIT_CARD", "DE_TAX_ID", "EMAIL_ADDRESS", "ES_NIE", "ES_NIF", "FR_NIR",
	"IBAN_CODE", "IN_AADHAAR", "IP_ADDRESS", "IT_FISCAL_CODE", "NL_BSN",
	"PHONE_NUMBER", "SECRET", "UK_NINO", "US_SSN",
]

test_allow_third_party_provider_gets_all_structured_pii_redacted if {
	decide("open", null, []).obligations.redact["us-cloud"] == structured
}

test_allow_self_hosted_provider_gets_only_secrets_redacted if {
	decide("open", null, []).obligations.redact.onprem == ["SECRET"]
}

test_allow_secrets_are_redacted_for_every_allowed_provider if {
	every _, types in decide("open", null, []).obligations.redact {
		"SECRET" in types
	}
}

test_allow_tenant_extra_entities_apply_to_every_provider if {
	redact := decide("careful", null, []).obligations.redact
	redact.onprem == ["PERSON", "SECRET"]
	redact["us-cloud"] == sort(array.concat(structured, ["PERSON"]))
}

test_allow_obligations_cover_exactly_the_allowed_providers if {
	d := decide("eu", null, [])
	d.allowed == sort(object.keys(d.obligations.redact))
}

test_allow_every_obligation_names_a_known_entity_type if {
	every _, types in decide("careful", null, []).obligations.redact {
		every t in types {
			t in router.entity_types
		}
	}
}

test_deny_unknown_extra_entity_type_fails_closed if {
	d := decide("typo", null, [])
	d.allowed == []
	d.denied.onprem == ["redaction: tenant typo asks to redact PASSPORT, which is not a known entity type"]
}
