# Budgets: what the sidecar's limits leave to the policy. With
# `limits.budget_exhausted: policy`, a request from a tenant or caller whose cost
# budget is used up is not refused; `input.budget.exhausted` names the budgets
# (cost_per_day_usd, cost_per_month_usd) and only self-hosted providers remain,
# so work goes on without spending more.
package router

default budget := {}

budget := input.budget if is_object(input.budget)

budget_exhausted := {name |
	some name in object.get(budget, "exhausted", [])
	is_string(name)
}

denial contains [id, msg] if {
	count(budget_exhausted) > 0
	some id, p in providers
	not self_hosted(p)
	spent := concat(", ", sort(budget_exhausted))
	msg := concat("", ["budget: ", spent, " used up; only self-hosted providers remain"])
}
