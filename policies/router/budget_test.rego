package router_test

import data.router

decide_spent(tenant, exhausted) := d if {
	d := router.decision with input as object.union(
		request_for(tenant, null, []),
		{"budget": {"exhausted": exhausted, "remaining": {}}},
	)
		with data.tenants as tenants
}

test_allow_every_provider_while_no_budget_is_used_up if {
	count(decide_spent("open", []).allowed) == count(catalog)
}

test_allow_every_provider_without_a_budget_in_the_input if {
	count(decide("open", null, []).allowed) == count(catalog)
}

test_allow_only_self_hosted_providers_once_a_budget_is_used_up if {
	decide_spent("open", ["cost_per_day_usd"]).allowed == ["onprem"]
}

test_deny_names_every_used_up_budget if {
	d := decide_spent("open", ["cost_per_month_usd", "cost_per_day_usd"])
	d.denied["us-cloud"] == ["budget: cost_per_day_usd, cost_per_month_usd used up; only self-hosted providers remain"]
}

test_deny_budget_never_loosens_other_rules if {
	d := decide_spent("eu", ["cost_per_day_usd"])
	d.allowed == ["onprem"]
	count(d.denied["us-cloud"]) == 2
}

test_allow_non_string_budget_names_are_ignored if {
	count(decide_spent("open", [7, null]).allowed) == count(catalog)
}
