package router_test

import data.router

test_allow_allow_list_minus_deny_list if {
	decide("picky", null, []).allowed == ["onprem", "us-cloud"]
}

test_deny_provider_missing_from_allow_list if {
	decide("picky", null, []).denied["eu-baa"] == ["tenant: eu-baa is not on tenant picky's allow list"]
}

test_deny_provider_on_deny_list_even_if_allow_listed if {
	decide("picky", null, []).denied["eu-zdr"] == ["tenant: eu-zdr is on tenant picky's deny list"]
}

test_allow_preference_keeps_tenant_order_of_allowed_providers_once if {
	decide("picky", null, []).preference == ["onprem", "us-cloud"]
}

test_allow_preference_drops_providers_denied_by_other_rules if {
	decide("picky", null, ["pci"]).preference == ["onprem"]
}

test_allow_preference_is_empty_without_tenant_preference if {
	decide("open", null, []).preference == []
}

test_allow_refusal_fallback_when_tenant_opts_in if {
	decide("picky", null, []).obligations.allow_refusal_fallback == true
}

test_deny_refusal_fallback_by_default if {
	decide("open", null, []).obligations.allow_refusal_fallback == false
}

test_deny_refusal_fallback_unless_literally_true if {
	d := router.decision with input as request_for("open", null, [])
		with data.tenants as {"open": {"allow_refusal_fallback": "yes"}}
	d.obligations.allow_refusal_fallback == false
}

test_deny_malformed_deny_list_is_ignored_not_fatal if {
	d := router.decision with input as request_for("open", null, [])
		with data.tenants as {"open": {"deny_providers": "bare"}}
	count(d.allowed) == count(catalog)
}
