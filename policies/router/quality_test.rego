package router_test

import data.router

floor_tenants := {
	"open": {},
	"writer": {"task_class": "autocomplete"},
	"analyst": {"task_class": "Analysis "},
	"strict": {"quality_floor": 88.5},
	"odd": {"task_class": "poetry"},
}

floors := {"autocomplete": {"quality_floor": 60}, "analysis": {"quality_floor": 85}, "chat": {}}

decide_floor(tenant, classes) := d if {
	d := router.decision with input as model_request(tenant, "smart", {"task_classes": classes})
		with data.tenants as floor_tenants
		with data.task_classes as floors
}

test_allow_no_task_class_sets_no_floor if {
	d := decide_floor("open", [])
	d.allowed == ["azure", "azure-eu", "claude", "llama", "mystery", "openai"]
	d.constraints.task_class == null
	d.constraints.quality_floor == null
}

test_deny_analysis_below_its_floor_with_a_reason_naming_it if {
	d := decide_floor("open", ["analysis"])
	d.denied.llama == ["quality: task class analysis needs a model scoring at least 85; llama-3-8b on llama scores 69"]
	d.constraints.task_class == "analysis"
	d.constraints.quality_floor == 85
}

test_deny_model_without_a_quality_score_under_a_floor if {
	decide_floor("open", ["analysis"]).denied.mystery == ["quality: task class analysis needs a model scoring at least 85; mystery's model for smart has no quality score"]
}

test_allow_embeddings_have_no_quality_floor if {
	request := model_request("analyst", "smart", {"task_classes": ["analysis"], "operation": "embeddings"})
	d := router.decision with input as request
		with data.tenants as floor_tenants
		with data.task_classes as floors
	"llama" in d.allowed
	"mystery" in d.allowed
	d.constraints.quality_floor == null
}

test_allow_models_at_or_above_the_floor if {
	decide_floor("open", ["analysis"]).allowed == ["azure", "azure-eu", "claude", "openai"]
}

test_allow_autocomplete_admits_the_weaker_model if {
	"llama" in decide_floor("open", ["autocomplete"]).allowed
}

test_deny_header_cannot_lower_the_tenants_class if {
	d := decide_floor("analyst", ["autocomplete"])
	not "llama" in d.allowed
	d.constraints.task_class == "analysis"
	d.constraints.quality_floor == 85
}

test_allow_header_raises_the_tenants_class if {
	d := decide_floor("writer", ["analysis"])
	not "llama" in d.allowed
	d.constraints.task_class == "analysis"
}

test_allow_tenant_class_applies_without_a_header if {
	d := decide_floor("analyst", [])
	d.denied.llama == ["quality: task class analysis needs a model scoring at least 85; llama-3-8b on llama scores 69"]
}

test_deny_several_classes_take_the_highest_floor if {
	d := decide_floor("open", ["autocomplete", "analysis"])
	d.constraints.quality_floor == 85
	d.constraints.task_class == "analysis"
}

test_allow_a_tie_prefers_the_requested_class if {
	d := router.decision with input as model_request("writer", "smart", {"task_classes": ["completion"]})
		with data.tenants as floor_tenants
		with data.task_classes as {"autocomplete": {"quality_floor": 60}, "completion": {"quality_floor": 60}}
	d.constraints.task_class == "completion"
}

test_deny_tenant_floor_above_the_class_floor_is_named if {
	d := decide_floor("strict", ["analysis"])
	d.constraints.quality_floor == 88.5
	d.denied.claude == ["quality: tenant strict's quality floor needs a model scoring at least 88.5; claude-sonnet on claude scores 88.3"]
	d.allowed == ["azure", "azure-eu", "openai"]
}

test_allow_class_without_a_floor_sets_none if {
	d := decide_floor("open", ["chat"])
	count(d.allowed) == count(model_catalog)
	d.constraints.task_class == "chat"
}

test_deny_unknown_task_class_denies_every_provider if {
	d := decide_floor("open", ["poetry"])
	d.allowed == []
	d.denied.openai == ["quality: task class poetry is not known to the policy, so no model can be shown to meet its quality floor"]
}

test_deny_unknown_tenant_default_class_denies_every_provider if {
	decide_floor("odd", []).allowed == []
}

test_deny_task_class_names_are_read_ignoring_case_and_spaces if {
	decide_floor("open", [" ANALYSIS"]).constraints.task_class == "analysis"
}

test_allow_malformed_task_classes_are_ignored if {
	d := decide_floor("open", [7, null, ""])
	d.constraints.task_class == null
	count(d.allowed) == count(model_catalog)
}

test_allow_task_classes_not_a_list_is_ignored if {
	decide_floor("open", "analysis").constraints.task_class == null
}

test_deny_a_score_that_is_not_a_number_is_no_score if {
	catalog := {"p": {"models": ["smart"], "model_attributes": {"smart": {"model": "m", "quality": "99"}}}}
	d := router.decision with input as {"tenant": "open", "request": {"model": "smart", "task_classes": ["analysis"]}, "providers": catalog}
		with data.tenants as floor_tenants
		with data.task_classes as floors
	d.denied.p == ["quality: task class analysis needs a model scoring at least 85; m on p has no quality score"]
}

test_allow_provider_that_does_not_serve_the_alias_is_not_judged if {
	catalog := {"p": {"models": ["default"], "model_attributes": {"default": {"quality": 10}}}}
	d := router.decision with input as {"tenant": "open", "request": {"model": "smart", "task_classes": ["analysis"]}, "providers": catalog}
		with data.tenants as floor_tenants
		with data.task_classes as floors
	d.allowed == ["p"]
}

test_allow_missing_task_class_data_means_every_class_is_unknown if {
	d := router.decision with input as model_request("open", "smart", {"task_classes": ["analysis"]})
		with data.tenants as floor_tenants
		with data.task_classes as "not an object"
	d.allowed == []
}
