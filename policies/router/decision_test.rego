package router_test

import data.router

test_deny_unknown_tenant_denies_every_provider if {
	d := decide("nobody", null, [])
	d.tenant_known == false
	d.allowed == []
	object.keys(d.denied) == object.keys(catalog)
}

test_deny_unknown_tenant_reason_is_unknown_tenant_only if {
	d := decide("nobody", "eu", ["phi"])
	every reasons in d.denied {
		reasons == ["unknown tenant"]
	}
}

test_deny_unknown_tenant_has_no_obligations_or_preference if {
	d := decide("nobody", null, [])
	d.obligations == {"redact": {}, "allow_refusal_fallback": false}
	d.preference == []
}

test_deny_tenant_entry_that_is_not_an_object_is_unknown if {
	decide("broken", null, []).tenant_known == false
}

test_deny_empty_input_still_yields_a_decision if {
	d := router.decision with input as {} with data.tenants as tenants
	d.tenant_known == false
	d.allowed == []
	d.denied == {}
}

test_deny_missing_tenant_data_yields_unknown_tenant if {
	d := router.decision with input as request_for("open", null, []) with data.tenants as {}
	d.tenant_known == false
	count(d.denied) == count(catalog)
}

test_allow_unconstrained_tenant_gets_every_provider if {
	d := decide("open", null, [])
	d.tenant_known == true
	d.allowed == ["bare", "eu-baa", "eu-zdr", "onprem", "us-cloud"]
	d.denied == {}
}

test_allow_no_providers_allows_nothing if {
	d := router.decision with input as {"tenant": "open", "request": {}, "providers": {}}
		with data.tenants as tenants
	d.allowed == []
	d.denied == {}
}

test_deny_allowed_and_denied_partition_the_catalog if {
	some tenant in ["open", "eu", "health", "cards", "secretive", "picky", "nobody"]
	d := decide(tenant, "eu", ["phi"])
	allowed := {id | some id in d.allowed}
	denied := {id | some id, _ in d.denied}
	count(allowed & denied) == 0
	allowed | denied == {id | some id, _ in catalog}
}

test_deny_every_denied_provider_has_sorted_reasons if {
	d := decide("eu", null, ["phi", "pci", "confidential"])
	count(d.denied) > 0
	every _, reasons in d.denied {
		count(reasons) > 0
		reasons == sort(reasons)
	}
}

test_allow_constraints_report_effective_residency_and_tags if {
	d := decide("health", "us", ["pii", "PHI"])
	d.constraints == {"residency": "us", "privacy_tags": ["phi", "pii"], "task_class": null, "quality_floor": null}
}
