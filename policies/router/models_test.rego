package router_test

import data.router

# Three providers serve gpt-4o (two of them for the alias "smart"), one serves a
# different model, one states nothing about its model.
model_catalog := {
	"openai": {"adapter": "openai", "models": ["default", "smart"], "model_attributes": {
		"default": {"model": "gpt-4o-mini", "quality": 82.0},
		"smart": {"model": "gpt-4o", "quality": 88.7, "context_window": 128000, "tools": true, "vision": true},
	}},
	"azure": {"adapter": "azure_openai", "models": ["smart"], "model_attributes": {
		"smart": {"model": "gpt-4o", "quality": 88.7, "context_window": 128000, "tools": true, "vision": true},
	}},
	"azure-eu": {"adapter": "azure_openai", "models": ["smart"], "model_attributes": {
		"smart": {"model": "gpt-4o", "quality": 88.7},
	}},
	"claude": {"adapter": "anthropic", "models": ["smart"], "model_attributes": {
		"smart": {"model": "claude-sonnet", "quality": 88.3, "context_window": 200000, "tools": true, "vision": true},
	}},
	"llama": {"adapter": "openai", "models": ["default", "smart"], "attributes": {"self_hosted": true}, "model_attributes": {
		"default": {"model": "llama-3-8b", "quality": 69, "context_window": 8192, "tools": false, "vision": false},
		"smart": {"model": "llama-3-8b", "quality": 69, "context_window": 8192, "tools": false, "vision": false},
	}},
	"mystery": {"adapter": "openai", "models": ["smart"]},
}

model_tenants := {
	"prefers-openai": {"preference": ["openai", "claude"]},
	"prefers-llama": {"preference": ["llama", "openai"]},
	"no-azure": {"preference": ["openai", "claude"], "deny_providers": ["azure"]},
	"open": {},
}

model_request(tenant, alias, extra) := {
	"tenant": tenant,
	"request": object.union({"residency": null, "privacy_tags": [], "model": alias}, extra),
	"providers": model_catalog,
}

decide_model(tenant, alias, extra) := d if {
	d := router.decision with input as model_request(tenant, alias, extra)
		with data.tenants as model_tenants
		with data.task_classes as {"autocomplete": {"quality_floor": 60}, "analysis": {"quality_floor": 85}}
}

test_allow_same_model_on_other_providers_follows_the_preferred_one if {
	decide_model("prefers-openai", "smart", {}).preference == ["openai", "azure", "azure-eu", "claude"]
}

test_allow_same_model_only_among_providers_that_serve_the_alias if {
	# For "default" only openai and llama serve, with different models: llama is not
	# added (the tenant's own preference is kept as it is).
	decide_model("prefers-openai", "default", {}).preference == ["openai", "claude"]
}

test_allow_same_model_never_brings_in_a_denied_provider if {
	decide_model("no-azure", "smart", {}).preference == ["openai", "azure-eu", "claude"]
}

test_allow_preferred_provider_keeps_its_own_position if {
	# openai is preferred second; it does not move ahead of llama's group.
	decide_model("prefers-llama", "smart", {}).preference == ["llama", "openai", "azure", "azure-eu"]
}

test_allow_no_preference_stays_empty if {
	decide_model("open", "smart", {}).preference == []
}

test_allow_model_label_names_model_and_provider if {
	router.model_label("openai", model_catalog.openai) == "gpt-4o on openai" with input as model_request("open", "smart", {})
}

test_allow_model_label_without_a_model_name if {
	router.model_label("mystery", model_catalog.mystery) == "mystery's model for smart" with input as model_request("open", "smart", {})
}

test_allow_model_label_without_a_requested_model if {
	router.model_label("mystery", model_catalog.mystery) == "mystery's model" with input as {"request": {}}
}

number_cases := [
	[82.0, "82"], [88.7, "88.7"], [85, "85"], [84.96, "85"], [0.05, "0.1"],
	[100, "100"], [128000, "128000"], [0, "0"], [66.6, "66.6"],
]

test_allow_numbers_are_written_to_one_decimal if {
	every case in number_cases {
		router.number_text(case[0]) == case[1]
	}
}
