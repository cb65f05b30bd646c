package router_test

import data.router

test_allow_eu_tenant_gets_only_eu_providers if {
	decide("eu", null, []).allowed == ["eu-baa", "eu-zdr", "onprem"]
}

test_deny_eu_tenant_explains_us_provider if {
	decide("eu", null, []).denied["us-cloud"] == ["residency: tenant requires eu, provider processes data in us"]
}

test_deny_provider_without_declared_residency_when_residency_is_required if {
	decide("eu", null, []).denied.bare == ["residency: tenant requires eu, provider does not declare where it processes data"]
}

test_deny_header_cannot_change_tenant_residency if {
	d := decide("eu", "us", [])
	d.allowed == []
	d.constraints.residency == "eu"
	msg := "residency: request header asked for us but tenant eu is bound to eu; a header may not change a tenant's residency"
	every _, reasons in d.denied {
		msg in reasons
	}
}

test_allow_header_repeating_tenant_residency_is_not_a_conflict if {
	decide("eu", " EU ", []).allowed == ["eu-baa", "eu-zdr", "onprem"]
}

test_allow_header_sets_residency_for_tenant_without_one if {
	d := decide("open", "eu", [])
	d.allowed == ["eu-baa", "eu-zdr", "onprem"]
	d.denied["us-cloud"] == ["residency: request requires eu, provider processes data in us"]
	d.constraints.residency == "eu"
}

test_allow_blank_or_absent_header_means_no_residency if {
	some header in [null, "", "  "]
	d := decide("open", header, [])
	d.constraints.residency == null
	count(d.allowed) == count(catalog)
}

test_allow_provider_residency_is_compared_case_insensitively if {
	providers := {"shouty-eu": {"attributes": {"residency": "EU"}}}
	d := router.decision with input as {"tenant": "eu", "request": {}, "providers": providers}
		with data.tenants as tenants
	d.allowed == ["shouty-eu"]
}
