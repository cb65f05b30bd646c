package router_test

phi_reason := "privacy: phi needs a provider with a signed HIPAA business associate agreement (certification hipaa_baa)"

pci_reason := "privacy: pci card data may only go to a self-hosted provider"

confidential_reason := "privacy: confidential data needs a provider with zero data retention"

# Each tag against the test catalog: which providers meet it.
tag_cases := [
	{"tag": "phi", "allowed": ["eu-baa", "us-cloud"], "reason": phi_reason},
	{"tag": "pci", "allowed": ["onprem"], "reason": pci_reason},
	{"tag": "confidential", "allowed": ["eu-zdr"], "reason": confidential_reason},
]

test_allow_each_tag_admits_only_providers_that_meet_it if {
	every case in tag_cases {
		decide("open", null, [case.tag]).allowed == case.allowed
	}
}

test_deny_each_tag_explains_providers_that_fail_it if {
	every case in tag_cases {
		d := decide("open", null, [case.tag])
		every _, reasons in d.denied {
			reasons == [case.reason]
		}
	}
}

test_allow_tenant_tags_apply_without_any_header if {
	decide("health", null, []).allowed == ["eu-baa", "us-cloud"]
	decide("cards", null, []).allowed == ["onprem"]
	decide("secretive", null, []).allowed == ["eu-zdr"]
}

test_deny_missing_tags_header_cannot_drop_tenant_phi if {
	d := decide("health", null, [])
	d.constraints.privacy_tags == ["phi"]
	d.denied.onprem == [phi_reason]
}

test_deny_header_adds_tags_to_tenant_tags if {
	d := decide("health", null, ["pci"])
	d.constraints.privacy_tags == ["pci", "phi"]
	d.allowed == []
	d.denied.onprem == [phi_reason]
	d.denied["us-cloud"] == [pci_reason]
}

test_allow_tags_are_trimmed_and_case_insensitive if {
	decide("open", null, [" PHI "]).constraints.privacy_tags == ["phi"]
}

test_allow_blank_and_non_string_tags_are_ignored if {
	decide("open", null, ["", 7, null]).constraints.privacy_tags == []
}

test_allow_pii_tag_alone_denies_no_provider if {
	count(decide("open", null, ["pii"]).allowed) == count(catalog)
}

test_deny_unknown_header_tag_fails_closed if {
	d := decide("open", null, ["biometric"])
	d.allowed == []
	every _, reasons in d.denied {
		reasons == ["privacy: tag biometric is not known to the policy, so no provider can be shown to meet it"]
	}
}

test_deny_unknown_tenant_tag_fails_closed if {
	decide("oddtag", null, []).allowed == []
}

test_deny_provider_without_attributes_meets_no_tag if {
	some tag in ["phi", "pci", "confidential"]
	decide("open", null, [tag]).denied.bare
}
