package router_test

import data.router

phi_embedding_reason := "privacy: phi may be embedded only by a self-hosted provider or one with zero data retention"

operation_request(tenant, tags, operation) := {
	"tenant": tenant,
	"request": {
		"privacy_tags": tags, "model": "default", "stream": false,
		"input_chars": 42, "protocol": "openai", "operation": operation,
	},
	"providers": catalog,
}

decide_operation(tenant, tags, operation) := d if {
	d := router.decision with input as operation_request(tenant, tags, operation)
		with data.tenants as operation_tenants
}

operation_tenants := object.union(tenants, {
	"no-embeddings": {"operations": ["chat", "responses"]},
	"embeddings-only": {"operations": ["embeddings"]},
	"health-search": {"privacy_tags": ["phi"], "operations": ["embeddings"]},
})

# Each operation, tenant and tag set: the providers allowed.
operation_cases := [
	{"tenant": "open", "tags": [], "operation": "chat", "allowed": ["bare", "eu-baa", "eu-zdr", "onprem", "us-cloud"]},
	{"tenant": "open", "tags": [], "operation": "responses", "allowed": ["bare", "eu-baa", "eu-zdr", "onprem", "us-cloud"]},
	{"tenant": "open", "tags": [], "operation": "embeddings", "allowed": ["bare", "eu-baa", "eu-zdr", "onprem", "us-cloud"]},
	# phi: a HIPAA BAA for every operation; for embeddings, no retention as well.
	{"tenant": "open", "tags": ["phi"], "operation": "chat", "allowed": ["eu-baa", "us-cloud"]},
	{"tenant": "open", "tags": ["phi"], "operation": "responses", "allowed": ["eu-baa", "us-cloud"]},
	{"tenant": "open", "tags": ["phi"], "operation": "embeddings", "allowed": []},
	{"tenant": "no-embeddings", "tags": [], "operation": "chat", "allowed": ["bare", "eu-baa", "eu-zdr", "onprem", "us-cloud"]},
	{"tenant": "no-embeddings", "tags": [], "operation": "embeddings", "allowed": []},
	{"tenant": "embeddings-only", "tags": [], "operation": "chat", "allowed": []},
	{"tenant": "embeddings-only", "tags": [], "operation": "embeddings", "allowed": ["bare", "eu-baa", "eu-zdr", "onprem", "us-cloud"]},
]

test_allow_each_operation_admits_the_providers_its_rules_allow if {
	every case in operation_cases {
		decide_operation(case.tenant, case.tags, case.operation).allowed == case.allowed
	}
}

test_deny_phi_embeddings_where_inputs_are_kept if {
	d := decide_operation("open", ["phi"], "embeddings")
	d.denied["us-cloud"] == [phi_embedding_reason]
	d.denied["eu-zdr"] == [phi_reason]
	phi_embedding_reason in d.denied["eu-baa"]
}

test_allow_phi_embeddings_where_nothing_is_kept if {
	baa_zdr := object.union(catalog, {"baa-zdr": {"adapter": "openai", "models": ["default"], "attributes": {
		"certifications": ["hipaa_baa"], "zero_data_retention": true,
	}}})
	onprem_baa := object.union(catalog, {"onprem": {"adapter": "openai", "models": ["default"], "attributes": {
		"certifications": ["hipaa_baa"], "self_hosted": true,
	}}})
	every providers in [baa_zdr, onprem_baa] {
		request := object.union(operation_request("health-search", [], "embeddings"), {"providers": providers})
		d := router.decision with input as request with data.tenants as operation_tenants
		count(d.allowed) == 1
	}
}

test_deny_phi_embedding_rule_leaves_chat_alone if {
	d := decide_operation("open", ["phi"], "chat")
	every _, reasons in d.denied {
		not phi_embedding_reason in reasons
	}
}

test_deny_operation_a_tenant_does_not_list if {
	d := decide_operation("no-embeddings", [], "embeddings")
	every _, reasons in d.denied {
		reasons == ["tenant: no-embeddings does not allow embeddings"]
	}
}

test_deny_unknown_operation_fails_closed if {
	d := decide_operation("open", [], "fine_tuning")
	d.allowed == []
	every _, reasons in d.denied {
		reasons == ["operation: fine_tuning is not known to the policy, so no provider can be shown to meet its rules"]
	}
}

test_allow_request_without_operation_is_a_chat if {
	d := router.decision with input as request_for("no-embeddings", null, [])
		with data.tenants as operation_tenants
	count(d.allowed) == count(catalog)
}

test_allow_non_string_operation_reads_as_chat if {
	d := decide_operation("no-embeddings", [], 7)
	count(d.allowed) == count(catalog)
}
