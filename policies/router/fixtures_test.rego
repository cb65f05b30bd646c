# Synthetic provider catalog and tenants shared by the policy tests. Test-only:
# the sidecar never loads *_test.rego files.
package router_test

import data.router

catalog := {
	"us-cloud": {"adapter": "openai", "models": ["default"], "attributes": {
		"residency": "us", "region": "us-east-1", "cloud": "azure",
		"certifications": ["soc2", "hipaa_baa"],
		"zero_data_retention": false, "self_hosted": false,
	}},
	"eu-zdr": {"adapter": "openai", "models": ["default"], "attributes": {
		"residency": "eu", "certifications": ["soc2"],
		"zero_data_retention": true, "self_hosted": false,
	}},
	"eu-baa": {"adapter": "anthropic", "models": ["default"], "attributes": {
		"residency": "eu", "certifications": ["iso27001", "hipaa_baa"],
		"zero_data_retention": false,
	}},
	"onprem": {"adapter": "openai", "models": ["default"], "attributes": {
		"residency": "eu", "certifications": [], "self_hosted": true,
	}},
	"bare": {"adapter": "openai", "models": ["default"]},
}

tenants := {
	"open": {"residency": null, "privacy_tags": []},
	"eu": {"residency": "eu", "privacy_tags": []},
	"health": {"residency": null, "privacy_tags": ["phi"]},
	"cards": {"privacy_tags": ["pci"]},
	"secretive": {"privacy_tags": ["confidential"]},
	"picky": {
		"allow_providers": ["us-cloud", "eu-zdr", "onprem"],
		"deny_providers": ["eu-zdr"],
		"preference": ["onprem", "eu-zdr", "us-cloud", "onprem"],
		"allow_refusal_fallback": true,
	},
	"careful": {"redact_extra": ["PERSON"]},
	"typo": {"redact_extra": ["PASSPORT"]},
	"oddtag": {"privacy_tags": ["gdpr_art9"]},
	"broken": "not an object",
}

request_for(tenant, residency, tags) := {
	"tenant": tenant,
	"request": {
		"residency": residency, "privacy_tags": tags, "model": "default",
		"stream": false, "input_chars": 42, "protocol": "openai",
	},
	"providers": catalog,
}

decide(tenant, residency, tags) := d if {
	d := router.decision with input as request_for(tenant, residency, tags)
		with data.tenants as tenants
}
